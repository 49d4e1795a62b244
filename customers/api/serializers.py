"""Serializers of the customers REST resources. Writes are validated again by the services they call."""

from rest_framework import serializers

from cs_project.core.types import BoundedDateField

from ..choices import AccountStatus, Tier
from ..models import Client, Contact, Contract


class AccountSerializer(serializers.ModelSerializer):
    """An account as returned by the API (read shape)."""

    csm_assigned = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Client
        fields = [
            "client_id",
            "client_name",
            "company_name",
            "industry",
            "tier",
            "value_tier",
            "status",
            "lifecycle_stage",
            "contract_value",
            "currency",
            "contract_start_date",
            "contract_end_date",
            "renewal_date",
            "primary_contact_email",
            "primary_contact_name",
            "csm_assigned",
            "health_score",
            "health_trend",
            "risk_level",
            "health_as_of",
            "last_engagement_date",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class AccountCreateSerializer(serializers.Serializer):
    """Body of ``POST /api/v1/accounts/`` — the arguments of ``register_client``."""

    client_id = serializers.RegexField(r"^[A-Za-z0-9_-]{1,128}$", required=False, allow_null=True)
    client_name = serializers.CharField(max_length=200)
    company_name = serializers.CharField(max_length=200)
    industry = serializers.CharField(max_length=100, required=False, default="Technology")
    tier = serializers.ChoiceField(choices=Tier.choices, required=False, default=Tier.STANDARD)
    contract_value = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, default=0
    )
    contract_start_date = BoundedDateField(required=False, allow_null=True)
    contract_end_date = BoundedDateField(required=False, allow_null=True)
    primary_contact_email = serializers.EmailField(required=False, allow_null=True, allow_blank=True)
    primary_contact_name = serializers.CharField(
        max_length=200, required=False, allow_null=True, allow_blank=True
    )


class AccountUpdateSerializer(serializers.Serializer):
    """Body of ``PATCH /api/v1/accounts/<client_id>/`` — the ``updates`` of ``update_client_info``."""

    client_name = serializers.CharField(max_length=200, required=False)
    company_name = serializers.CharField(max_length=200, required=False)
    industry = serializers.CharField(max_length=100, required=False)
    tier = serializers.ChoiceField(choices=Tier.choices, required=False)
    contract_value = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    contract_start_date = BoundedDateField(required=False)
    contract_end_date = BoundedDateField(required=False)
    primary_contact_email = serializers.EmailField(required=False, allow_blank=True)
    primary_contact_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    csm_assigned = serializers.CharField(
        required=False, allow_null=True, help_text="Username or e-mail of an active staff user, or null."
    )
    status = serializers.ChoiceField(choices=AccountStatus.choices, required=False)


class ContactSerializer(serializers.ModelSerializer):
    client_id = serializers.CharField(source="client.client_id", read_only=True)

    class Meta:
        model = Contact
        fields = [
            "id",
            "client_id",
            "name",
            "email",
            "role",
            "title",
            "phone",
            "is_primary",
            "primary_since",
            "primary_until",
            "created_at",
        ]
        read_only_fields = fields


class ContractSerializer(serializers.ModelSerializer):
    contract_id = serializers.CharField(read_only=True)
    client_id = serializers.CharField(source="client.client_id", read_only=True)
    seats = serializers.IntegerField(source="included_users", read_only=True, allow_null=True)

    class Meta:
        model = Contract
        fields = [
            "contract_id",
            "client_id",
            "contract_type",
            "status",
            "tier",
            "value",
            "currency",
            "start_date",
            "end_date",
            "seats",
            "included_usage",
            "auto_renew",
            "notice_period_days",
            "payment_status",
            "payment_status_manual",
            "created_at",
        ]
        read_only_fields = fields
