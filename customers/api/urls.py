"""Customers REST routes, mounted at /api/v1/: accounts/, contacts/, contracts/."""

from rest_framework.routers import SimpleRouter

from .views import AccountViewSet, ContactViewSet, ContractViewSet

app_name = "customers_api"

router = SimpleRouter()
router.trailing_slash = "/?"  # with or without the slash: a POST is never redirected (which drops its body)
router.register("accounts", AccountViewSet, basename="account")
router.register("contacts", ContactViewSet, basename="contact")
router.register("contracts", ContractViewSet, basename="contract")

urlpatterns = router.urls
