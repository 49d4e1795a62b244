"""Customers REST resources. Writes call the same services as the tools, so they validate, audit and write
timeline entries identically; business errors become the error envelope in ``cs_project.core.api``.

Access is :class:`cs_project.core.permissions.AppScopePermission`, the tools' rule: reads need the ``read``
scope and ``customers.mcp_read``, writes the ``write`` scope and ``customers.mcp_write``."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from cs_project.core.context import Actor
from cs_project.core.permissions import AppScopePermission

from .. import services
from ..filters import ClientFilter, ContactFilter, ContractFilter
from ..models import Client, Contact, Contract
from .serializers import (
    AccountCreateSerializer,
    AccountSerializer,
    AccountUpdateSerializer,
    ContactSerializer,
    ContractSerializer,
)


def _actor(request) -> Actor:
    return Actor.for_user(request.user, channel="api")


class AccountViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Accounts by ``client_id``. Create = ``register_client``; update = ``update_client_info``."""

    queryset = Client.objects.select_related("csm_assigned").order_by("client_name", "client_id")
    serializer_class = AccountSerializer
    permission_classes = [AppScopePermission]
    filterset_class = ClientFilter
    lookup_field = "client_id"
    lookup_value_regex = r"[A-Za-z0-9_-]{1,128}"

    @extend_schema(request=AccountCreateSerializer, responses={201: AccountSerializer})
    def create(self, request, *args, **kwargs):
        body = AccountCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.client_register(actor=_actor(request), **body.validated_data)
        return Response(AccountSerializer(result.client).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AccountUpdateSerializer, responses={200: AccountSerializer})
    def update(self, request, *args, **kwargs):
        client = self.get_object()
        body = AccountUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        updates = {key: request.data[key] for key in body.validated_data}
        for key in request.data:
            if key not in body.fields:
                updates[key] = request.data[key]  # the service names the unknown key in its error
        result = services.client_update(actor=_actor(request), client_id=client.client_id, updates=updates)
        return Response(AccountSerializer(result.client).data)

    @extend_schema(request=AccountUpdateSerializer, responses={200: AccountSerializer})
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)


class ContactViewSet(viewsets.ReadOnlyModelViewSet):
    """Contacts of all accounts (read-only; primary contacts change through the account)."""

    queryset = Contact.objects.select_related("client").order_by(
        "client__client_id", "-is_primary", "name", "id"
    )
    serializer_class = ContactSerializer
    permission_classes = [AppScopePermission]
    filterset_class = ContactFilter


class ContractViewSet(viewsets.ReadOnlyModelViewSet):
    """Contracts (``CNT-<n>``), read-only; the active contract changes through the account."""

    queryset = Contract.objects.select_related("client").order_by("client__client_id", "-start_date", "-id")
    serializer_class = ContractSerializer
    permission_classes = [AppScopePermission]
    filterset_class = ContractFilter
