import datetime as dt
import json
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from customers.models import ClientExternalId
from health.ingestion import DERIVED_ID_PREFIX, ingest_events, normalise_feature_key
from health.models import (
    ClientUsageDaily,
    ExpiredEventReceipt,
    Feature,
    FeatureUsageDaily,
    UsageEvent,
    UsageRollupPending,
    UserActivityDaily,
)
from health.rollups import local_date, rebuild, rebuild_range, rollup_pending
from tests.core.helpers import auth, make_token
from tests.customers.factories import ClientFactory
from tests.health.factories import FeatureFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(superuser):
    client = APIClient()
    client.credentials(**auth(make_token(superuser, ("read", "write"))))
    return client


def track(i, **kw):
    msg = {
        "type": "track",
        "messageId": f"m-{i}",
        "userId": f"u{i % 3}",
        "event": "Report Exported",
        "timestamp": (timezone.now() - dt.timedelta(hours=i)).isoformat(),
        "properties": {"feature_key": "reports.export", "quantity": 2, "format": "pdf"},
        "context": {"groupId": "acme"},
    }
    msg.update(kw)
    return msg


def test_batch_rejects_bad_events_keeps_good_and_counts_duplicates(api):
    ClientFactory(client_id="acme")
    batch = [
        track(0),
        track(1),
        {"type": "identify", "userId": "u1"},
        track(2, context={}),
        track(3, context={"groupId": "nobody"}),
        track(4, timestamp=(timezone.now() + dt.timedelta(hours=1)).isoformat()),
        track(5, timestamp="not a date"),
        track(6, properties={"quantity": -1}),
        track(0),  # duplicate inside the batch
        "junk",
    ]
    res = api.post("/api/v1/events/batch", {"batch": batch}, format="json")
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["status"] == "success"
    assert (body["accepted"], body["duplicates"]) == (2, 1)
    assert body["rejected"] == [
        {"index": 2, "reason": "unsupported_type"},
        {"index": 3, "reason": "missing_group"},
        {"index": 4, "reason": "unknown_account"},
        {"index": 5, "reason": "future_timestamp"},
        {"index": 6, "reason": "invalid_timestamp"},
        {"index": 7, "reason": "invalid_quantity"},
        {"index": 9, "reason": "invalid_message"},
    ]
    event = UsageEvent.objects.get(message_id="m-0")
    assert (event.source, event.feature_key, event.quantity) == ("segment", "reports.export", Decimal("2"))
    assert event.properties == {"format": "pdf"}
    # re-sending the same batch stores nothing new
    again = api.post("/api/v1/events/batch", {"batch": [track(0), track(1)]}, format="json").json()
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    assert UsageEvent.objects.count() == 2


def test_unknown_feature_auto_catalogued_and_plain_form(api):
    ClientFactory(client_id="acme")
    ClientExternalId.objects.create(
        client=ClientFactory(client_id="beta"), system="segment", external_id="grp-9"
    )
    res = api.post(
        "/api/v1/events/batch",
        {"events": [{"client_id": "grp-9", "anonymous_id": "x1", "event": "Opened  Dashboard!"}]},
        format="json",
    ).json()
    assert res["accepted"] == 1
    event = UsageEvent.objects.get()
    assert (event.client.client_id, event.user_id, event.feature_key, event.source) == (
        "beta",
        "anon:x1",
        "opened_dashboard_",
        "api",
    )
    feature = Feature.objects.get(feature_key="opened_dashboard_")
    assert (feature.catalogued, feature.category, feature.counts_as_activity, feature.is_core) == (
        False,
        "other",
        True,
        False,
    )
    assert normalise_feature_key("Report Exported (PDF)") == "report_exported_pdf_"


def test_track_endpoint_and_clock_correction(api):
    ClientFactory(client_id="acme")
    sent = timezone.now() - dt.timedelta(hours=2)  # device clock two hours behind
    stamp = sent - dt.timedelta(minutes=1)
    res = api.post(
        "/api/v1/events/track",
        {**track(1, timestamp=stamp.isoformat()), "sentAt": sent.isoformat()},
        format="json",
    )
    assert res.json()["accepted"] == 1
    event = UsageEvent.objects.get()
    assert abs((event.occurred_at - (event.received_at - dt.timedelta(minutes=1))).total_seconds()) < 5


def test_limits_413(api):
    ClientFactory(client_id="acme")
    res = api.post("/api/v1/events/batch", {"batch": [track(i) for i in range(1001)]}, format="json")
    assert res.status_code == 413 and res.json()["error"]["code"] == "INVALID_PARAMETER"
    big = {"batch": [track(0, properties={"blob": "x" * 600_000})]}
    res = api.post("/api/v1/events/batch", big, format="json")
    assert res.status_code == 413 and res.json()["error"]["code"] == "INVALID_PARAMETER"
    res = api.post(
        "/api/v1/events/batch", {"batch": [track(0, properties={"blob": "x" * 40_000})]}, format="json"
    )
    assert res.json()["rejected"] == [{"index": 0, "reason": "event_too_large"}]


def test_permission_required(django_user_model):
    user = django_user_model.objects.create_user("plain", "p@example.com", "pw-123456789!")
    client = APIClient()
    client.credentials(**auth(make_token(user, ("read", "write"))))
    assert client.post("/api/v1/events/batch", {"batch": []}, format="json").status_code == 403
    assert APIClient().post("/api/v1/events/batch", {"batch": []}, format="json").status_code in (401, 403)


def test_rollup_counts_and_idempotency():
    client = ClientFactory(client_id="acme")
    FeatureFactory(feature_key="login", counts_as_activity=False)
    now = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    msgs = [
        {"userId": "u1", "event": "x", "properties": {"feature_key": "a", "quantity": 2}},
        {"userId": "u1", "event": "x", "properties": {"feature_key": "b"}},
        {"userId": "u2", "event": "x", "properties": {"feature_key": "a"}},
        {"userId": "u3", "event": "login", "properties": {"feature_key": "login"}},  # not counting → not DAU
        {"anonymousId": "z", "event": "x", "properties": {"feature_key": "a"}},  # anonymous → not DAU
    ]
    for i, m in enumerate(msgs):
        m.update(type="track", messageId=f"r{i}", timestamp=now.isoformat(), context={"groupId": "acme"})
    assert ingest_events(messages=msgs, source="segment")["accepted"] == 5
    day = local_date(now)
    assert list(UsageRollupPending.objects.values_list("client_id", "date")) == [(client.pk, day)]

    def snapshot():
        return (
            list(
                ClientUsageDaily.objects.values_list(
                    "date", "events", "counting_events", "active_users", "quantity"
                )
            ),
            sorted(
                UserActivityDaily.objects.values_list("user_id", "events", "counting_events", "features_used")
            ),
            sorted(FeatureUsageDaily.objects.values_list("feature_key", "events", "active_users")),
        )

    assert rollup_pending() == 1
    first = snapshot()
    assert first[0] == [(day, 5, 4, 2, Decimal("6"))]
    assert first[1] == [("anon:z", 1, 1, 1), ("u1", 2, 2, 2), ("u2", 1, 1, 1), ("u3", 1, 0, 1)]
    assert first[2] == [("a", 3, 2), ("b", 1, 1), ("login", 1, 1)]
    assert not UsageRollupPending.objects.exists()
    # rebuilding the same date again (and re-ingesting duplicates) changes nothing
    UsageRollupPending.objects.create(client=client, date=day, touched_at=timezone.now())
    ingest_events(messages=msgs, source="segment")
    rollup_pending()
    assert snapshot() == first


def _rollup_rows():
    return (
        sorted(
            ClientUsageDaily.objects.values_list(
                "client_id", "date", "events", "counting_events", "active_users"
            )
        ),
        sorted(
            UserActivityDaily.objects.values_list("client_id", "user_id", "date", "events", "features_used")
        ),
        sorted(
            FeatureUsageDaily.objects.values_list(
                "client_id", "feature_key", "date", "events", "active_users"
            )
        ),
    )


@pytest.mark.parametrize("chunk_clients", [1, 2000])
def test_range_rebuild_matches_day_by_day_rebuild(chunk_clients):
    """The set-based range rebuild (PostgreSQL) gives the rows of the day-by-day rebuild, however it is chunked."""
    FeatureFactory(feature_key="login", counts_as_activity=False)
    acme, beta, other = ClientFactory(client_id="acme"), ClientFactory(client_id="beta"), ClientFactory()
    today = local_date(timezone.now())
    noon = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    msgs = []
    for days_back, cid, user, feature in [
        (1, "acme", "u1", "a"),
        (1, "acme", "u1", "b"),
        (1, "acme", "u2", "login"),
        (2, "acme", "u1", "a"),
        (2, "beta", "u9", "a"),
        (3, "beta", None, "a"),
        (3, "beta", "u9", "login"),
    ]:
        m = {
            "event": "x",
            "properties": {"feature_key": feature},
            "context": {"groupId": cid},
            "type": "track",
        }
        m.update({"userId": user} if user else {"anonymousId": "z"})
        m.update(messageId=f"m{len(msgs)}", timestamp=(noon - dt.timedelta(days=days_back)).isoformat())
        msgs.append(m)
    msgs.append({**msgs[0], "messageId": "other", "context": {"groupId": other.client_id}})
    assert ingest_events(messages=msgs, source="segment")["accepted"] == 8
    start = today - dt.timedelta(days=4)
    for i in range(5):
        rebuild([acme.pk, beta.pk, other.pk], start + dt.timedelta(days=i))
    expected = _rollup_rows()
    assert len(expected[0]) == 5  # acme 2 days, beta 2 days, other 1 day
    assert len(expected[1]) == 7 and len(expected[2]) == 8
    rebuild_range([acme.pk, beta.pk], start, today, chunk_clients=chunk_clients)
    assert _rollup_rows() == expected


def test_expired_events_go_to_rollups_only():
    ClientFactory(client_id="acme")
    old = timezone.now() - dt.timedelta(days=400)
    msgs = [
        {
            "type": "track",
            "userId": "u1",
            "event": "x",
            "messageId": f"o{i}",
            "timestamp": old.isoformat(),
            "context": {"groupId": "acme"},
        }
        for i in range(3)
    ]
    assert ingest_events(messages=msgs, source="segment")["accepted"] == 3
    assert not UsageEvent.objects.exists()
    assert ClientUsageDaily.objects.get().events == 3
    assert ClientUsageDaily.objects.get().active_users == 1


def test_readers_rebuild_pending_before_scoring():
    from health.scoring import score_client

    ClientFactory(client_id="acme")
    msgs = [
        {"type": "track", "userId": "u1", "event": "x", "messageId": "p1", "context": {"groupId": "acme"}}
    ]
    ingest_events(messages=msgs, source="segment")
    assert not ClientUsageDaily.objects.exists()
    result = score_client("acme", persist=False)
    assert result["components"]["usage"] is not None
    assert result["inputs"]["usage"]["mau"] == 1


def test_bad_json_body(api):
    res = api.generic("POST", "/api/v1/events/batch", "{nope", content_type="application/json")
    assert res.status_code == 400 and res.json()["error"]["code"] == "INVALID_PARAMETER"
    assert json.loads(res.content)["status"] == "failed"


# --- defect 4: replays are no-ops, with or without messageId, recent or older than raw retention ---------


def _anonymous(i, **kw):
    """An event without messageId: the server derives one from its content."""
    msg = track(i, **kw)
    del msg["messageId"]
    return msg


def test_events_without_message_id_replayed_are_duplicates(api):
    ClientFactory(client_id="acme")
    batch = [_anonymous(0), _anonymous(1), _anonymous(1, properties={"feature_key": "reports.export"})]
    first = api.post("/api/v1/events/batch", {"batch": batch}, format="json").json()
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (3, 0, [])
    again = api.post("/api/v1/events/batch", {"batch": batch}, format="json").json()
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 3, [])
    ids = list(UsageEvent.objects.values_list("message_id", flat=True))
    assert len(ids) == 3 and all(i.startswith(DERIVED_ID_PREFIX) and len(i) == 72 for i in ids)
    # same content as a plain-form batch is another source: stored once there too
    plain = api.post("/api/v1/events/batch", {"events": batch[:1]}, format="json").json()
    assert (plain["accepted"], plain["duplicates"]) == (1, 0)


def test_client_message_ids_cannot_take_the_derived_prefix(api):
    ClientFactory(client_id="acme")
    res = api.post(
        "/api/v1/events/batch", {"batch": [track(0, messageId=DERIVED_ID_PREFIX + "0" * 64)]}, format="json"
    ).json()
    assert res["rejected"] == [{"index": 0, "reason": "invalid_message_id"}]


def test_expired_events_replayed_are_not_counted_again():
    ClientFactory(client_id="acme")
    old = (timezone.now() - dt.timedelta(days=400)).isoformat()
    base = {"type": "track", "userId": "u1", "event": "x", "timestamp": old, "context": {"groupId": "acme"}}
    msgs = [{**base, "messageId": "o1"}, {**base, "messageId": "o2"}, {**base, "properties": {"n": 1}}]
    assert ingest_events(messages=msgs, source="segment")["accepted"] == 3
    replay = ingest_events(messages=msgs, source="segment")
    assert (replay["accepted"], replay["duplicates"]) == (0, 3)
    row = ClientUsageDaily.objects.get()
    assert (row.events, row.active_users) == (3, 1)
    assert UserActivityDaily.objects.get().events == 3
    assert FeatureUsageDaily.objects.get().events == 3
    assert ExpiredEventReceipt.objects.count() == 3 and not UsageEvent.objects.exists()


# --- defect 9: hostile events are rejected one by one; the good ones of the batch land --------------------


def test_hostile_events_rejected_per_event_good_events_land(api):
    ClientFactory(client_id="acme")
    batch = [
        track(0),
        track(1, event="Report\x00Exported"),
        track(2, properties={"note": "\ud800"}),
        track(3, properties={"k\x00": 1}),
        track(4, properties={"ratio": float("nan")}),
        track(5, properties={"ratio": float("inf")}),
        track(6, messageId="m\x00"),
        track(7, userId="\udfff"),
        track(8, timestamp="9999-12-31T23:59:59Z"),
        track(9, properties={"big": 2**70, "ms": 1_700_000_000_000}),
    ]
    # ensure_ascii writes the lone surrogates as \\udxxx escapes and NaN/Infinity as bare tokens, as fuzzers do
    body = json.dumps({"batch": batch})
    res = api.generic("POST", "/api/v1/events/batch", body, content_type="application/json")
    assert res.status_code == 200, res.content
    out = res.json()
    assert (out["accepted"], out["duplicates"]) == (2, 0)
    assert out["rejected"] == [
        {"index": 1, "reason": "invalid_value", "field": "event"},
        {"index": 2, "reason": "invalid_value", "field": "properties.note"},
        {"index": 3, "reason": "invalid_value", "field": r"properties.k\x00"},
        {"index": 4, "reason": "invalid_value", "field": "properties.ratio"},
        {"index": 5, "reason": "invalid_value", "field": "properties.ratio"},
        {"index": 6, "reason": "invalid_value", "field": "messageId"},
        {"index": 7, "reason": "invalid_value", "field": "userId"},
        {"index": 8, "reason": "invalid_timestamp"},
    ]
    assert sorted(UsageEvent.objects.values_list("message_id", flat=True)) == ["m-0", "m-9"]
    assert UsageEvent.objects.get(message_id="m-9").properties == {"big": 2**70, "ms": 1_700_000_000_000}


def test_year_9999_timestamps_with_sent_at_1970(api):
    ClientFactory(client_id="acme")
    body = {"batch": [track(0, timestamp="9999-12-31T23:59:59Z"), track(1)], "sentAt": "1970-01-01T00:00:00Z"}
    out = api.post("/api/v1/events/batch", body, format="json").json()
    # year 9999 is out of range; the 1970 clock shifts the other event 50+ years ahead: future, not a crash
    assert out["rejected"] == [
        {"index": 0, "reason": "invalid_timestamp"},
        {"index": 1, "reason": "future_timestamp"},
    ]
    out = api.post("/api/v1/events/track", {**track(3), "sentAt": "9999-12-31T23:59:59+23:59"}, format="json")
    assert out.json()["accepted"] == 1  # an unusable sentAt corrects nothing


@pytest.mark.parametrize("body", ["[" * 5000 + "]" * 5000, '{"batch": ' + "[" * 40 + "]" * 40 + "}"])
def test_deeply_nested_body_is_a_400(api, body):
    res = api.generic("POST", "/api/v1/events/batch", body, content_type="application/json")
    assert res.status_code == 400, res.content
    assert res.json()["error"] == {
        "code": "INVALID_PARAMETER",
        "message": "JSON nested deeper than 32 levels.",
        "field": "body",
    }
