"""Every admin mutation is audited, in every app: the shared AuditedAdmin base."""

import pytest
from django.urls import reverse

from customers.models import AuditEvent
from health.models import Feature
from support.models import SlaPolicy

pytestmark = pytest.mark.django_db


def test_admin_change_and_delete_are_audited(client, staff_user):
    client.force_login(staff_user)
    add = client.post(
        reverse("admin:health_feature_add"),
        {
            "feature_key": "reports.share",
            "name": "Share report",
            "category": "core",
            "min_tier": "starter",
            "counts_as_activity": "on",
            "active": "on",
            "catalogued": "on",
        },
    )
    assert add.status_code == 302, add.content.decode()[:2000]
    feature = Feature.objects.get(feature_key="reports.share")
    created = AuditEvent.objects.get(action="health.feature.created")
    assert (created.actor, created.channel, created.object_id) == ("csm", "admin", str(feature.pk))
    assert created.changes["name"] == [None, "Share report"]

    delete = client.post(reverse("admin:health_feature_delete", args=[feature.pk]), {"post": "yes"})
    assert delete.status_code == 302
    assert not Feature.objects.filter(pk=feature.pk).exists()
    assert AuditEvent.objects.filter(action="health.feature.deleted", object_id=str(feature.pk)).count() == 1


def test_failed_admin_save_writes_no_audit(client, staff_user):
    client.force_login(staff_user)
    policy = SlaPolicy.objects.get(priority="P0")
    before = AuditEvent.objects.count()
    response = client.post(
        reverse("admin:support_slapolicy_change", args=[policy.pk]),
        {"priority": "P0", "first_response_minutes": "-5", "resolution_minutes": "60"},
    )
    assert response.status_code == 200  # the form is shown again with errors
    assert AuditEvent.objects.count() == before
