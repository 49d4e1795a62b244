"""FilterSets of the customers app, shared by the REST resources and by ``list_clients``."""

import django_filters
from django.db.models import Q

from cs_project.core.filters import BoundedFilterSet

from .choices import (
    AccountStatus,
    ContactRole,
    ContractStatus,
    LifecycleStage,
    PaymentStatus,
    Tier,
    ValueTierName,
)
from .models import Client, Contact, Contract


class ClientFilter(BoundedFilterSet):
    """Filters are ANDed in SQL; health bounds exclude clients without a score (null never matches)."""

    tier = django_filters.ChoiceFilter(choices=Tier.choices)
    lifecycle_stage = django_filters.ChoiceFilter(choices=LifecycleStage.choices)
    status = django_filters.ChoiceFilter(choices=AccountStatus.choices)
    value_tier = django_filters.ChoiceFilter(choices=ValueTierName.choices)
    health_score_min = django_filters.NumberFilter(field_name="health_score", lookup_expr="gte")
    health_score_max = django_filters.NumberFilter(field_name="health_score", lookup_expr="lte")
    industry = django_filters.CharFilter(field_name="industry", lookup_expr="iexact")
    csm = django_filters.CharFilter(field_name="csm_assigned__username", lookup_expr="iexact")
    renewal_before = django_filters.DateFilter(field_name="renewal_date", lookup_expr="lte")
    renewal_after = django_filters.DateFilter(field_name="renewal_date", lookup_expr="gte")
    search = django_filters.CharFilter(method="filter_search")

    class Meta:
        model = Client
        fields = ["tier", "lifecycle_stage", "status", "value_tier", "industry"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(client_id__icontains=value) | Q(client_name__icontains=value) | Q(company_name__icontains=value)
        )


class ContactFilter(BoundedFilterSet):
    client_id = django_filters.CharFilter(field_name="client__client_id")
    role = django_filters.ChoiceFilter(choices=ContactRole.choices)
    is_primary = django_filters.BooleanFilter()
    email = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Contact
        fields = ["client_id", "role", "is_primary", "email"]


class ContractFilter(BoundedFilterSet):
    client_id = django_filters.CharFilter(field_name="client__client_id")
    status = django_filters.ChoiceFilter(choices=ContractStatus.choices)
    tier = django_filters.ChoiceFilter(choices=Tier.choices)
    payment_status = django_filters.ChoiceFilter(choices=PaymentStatus.choices)
    end_before = django_filters.DateFilter(field_name="end_date", lookup_expr="lte")
    end_after = django_filters.DateFilter(field_name="end_date", lookup_expr="gte")

    class Meta:
        model = Contract
        fields = ["client_id", "status", "tier", "payment_status", "contract_type", "auto_renew"]
