from django.apps import AppConfig


class CustomersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "customers"
    verbose_name = "Customers"

    def ready(self):
        """Subscribe to the plumbing's hooks: the plumbing never imports this app (ARCHITECTURE)."""
        from cs_project.core.hooks import token_changed

        from .audit import on_token_changed

        token_changed.connect(on_token_changed, dispatch_uid="customers.audit.on_token_changed")
