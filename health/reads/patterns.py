"""``analyze_engagement_patterns`` (TOOLS §3.8): temporal, feature, communication and support patterns, user
personas and their transitions, success and risk patterns (PAT-01…PAT-03), daily anomalies (RULES §3.4) and
PAT-04 projections, over all customers, a segment or one account.

Each section is one step below; a section the caller did not ask for runs no query. Portfolio-wide: a fixed
number of grouped queries whatever the number of clients.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import Count, DateField, JSONField, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, Trunc
from django.utils import timezone

from cs_project.core.errors import InvalidParameter, NotFound
from cs_project.core.stats import ols, r
from customers.choices import AccountStatus, Priority
from customers.models import Client
from customers.rules import finding, sort_findings

from ..common import gap, resolve_client, stable_id, today
from ..models import (
    ClientMilestone,
    ClientUsageDaily,
    FeatureUsageDaily,
    HealthSnapshot,
    Segment,
    SegmentMembership,
    UsageEvent,
    UserActivityDaily,
)
from ..rollups import ANON_PREFIX, day_bounds, raw_retention_cutoff, reporting_tz, rollup_pending
from ..rules import WEEKDAYS, jaccard_pairs, trend_10pct, user_cohorts
from ..segmentation import population_queryset
from .adoption import cohort_rows

D = dt.timedelta
PATTERN_TYPES = ("temporal", "feature_usage", "communication", "support")
PERSONAS = ("power", "regular", "at_risk", "inactive")
ANOMALY_Z = 3  # RULES §3.4
PAT04_WEEKS = 12  # weeks read; ≥ 8 complete weeks of data needed
PAT04_DECLINE = 0.7  # projected ≤ 70 % of current


@dataclass
class _Window:
    """Scope and window W (with the previous window P) shared by the steps of one call."""

    ids: list[int]
    clients: dict[int, dict]
    as_of: dt.date
    days: int
    gaps: list[dict] = field(default_factory=list)

    @property
    def w0(self) -> dt.date:
        return self.as_of - D(days=self.days - 1)

    @property
    def p0(self) -> dt.date:
        return self.w0 - D(days=self.days)

    @property
    def start_at(self) -> dt.datetime:
        return day_bounds(self.w0)[0]

    @property
    def end_at(self) -> dt.datetime:
        return day_bounds(self.as_of)[1]

    @property
    def raw_ok(self) -> bool:
        return self.w0 >= raw_retention_cutoff()


def _scope_clients(analysis_scope: str, scope_filter: dict | None, as_of: dt.date):
    """The clients of the scope: one account, a saved segment's current members or a FILTER, or all active."""
    if analysis_scope == "individual":
        cid = (scope_filter or {}).get("client_id")
        if not cid:
            raise InvalidParameter(
                "individual scope needs scope_filter.client_id.", field="scope_filter.client_id"
            )
        return Client.objects.filter(pk=resolve_client(cid).pk)
    if analysis_scope == "segment":
        if not scope_filter:
            raise InvalidParameter(
                "segment scope needs scope_filter {segment_id} or a FILTER.", field="scope_filter"
            )
        if "segment_id" in scope_filter:
            seg = Segment.objects.filter(segment_id=scope_filter["segment_id"]).first()
            if seg is None:
                raise NotFound(
                    f"Segment '{scope_filter['segment_id']}' does not exist.", field="scope_filter.segment_id"
                )
            return Client.objects.filter(
                pk__in=SegmentMembership.objects.filter(segment=seg, exited_at__isnull=True).values(
                    "client_id"
                )
            )
        return population_queryset(scope_filter, path="scope_filter", as_of=as_of)
    return Client.objects.filter(status=AccountStatus.ACTIVE)


def _temporal(w: _Window, identified: list[dict]) -> dict[str, Any]:
    """Events by ISO weekday (roll-ups), by hour (raw events, reporting time zone), weekly active users."""
    by_weekday = [0] * 7
    for row in (
        ClientUsageDaily.objects.filter(client_id__in=w.ids, date__gte=w.w0, date__lte=w.as_of)
        .annotate(wd=ExtractIsoWeekDay("date"))
        .values("wd")
        .annotate(n=Sum("events"))
    ):
        by_weekday[row["wd"] - 1] = row["n"] or 0
    by_hour = None
    if w.raw_ok:
        by_hour = [0] * 24
        for row in (
            UsageEvent.objects.filter(
                client_id__in=w.ids, occurred_at__gte=w.start_at, occurred_at__lt=w.end_at
            )
            .annotate(h=ExtractHour("occurred_at", tzinfo=reporting_tz()))
            .values("h")
            .annotate(n=Count("id"))
        ):
            by_hour[row["h"]] = row["n"]
    else:
        w.gaps.append(gap("temporal_patterns.by_hour", "raw_events_expired", "Window before retention."))
    weekly: Counter = Counter()
    for row in (
        UserActivityDaily.objects.filter(
            client_id__in=w.ids, date__gte=w.w0, date__lte=w.as_of, counting_events__gt=0
        )
        .exclude(user_id__startswith=ANON_PREFIX)
        .annotate(b=Trunc("date", "week", output_field=DateField()))
        .values("client_id", "b")
        .annotate(n=Count("user_id", distinct=True))
    ):
        weekly[row["b"]] += row["n"]
    temporal = {
        "by_weekday": dict(zip(WEEKDAYS, by_weekday, strict=True)),
        "by_hour": by_hour,
        "weekly_active_users": [
            {"week_start": b.isoformat(), "active_users": n} for b, n in sorted(weekly.items())
        ],
        "peak_weekday": WEEKDAYS[by_weekday.index(max(by_weekday))] if any(by_weekday) else None,
        "peak_hour": by_hour.index(max(by_hour)) if by_hour and any(by_hour) else None,
    }
    if temporal["peak_weekday"]:
        identified.append({"pattern": "peak_weekday", "value": temporal["peak_weekday"]})
    if temporal["peak_hour"] is not None:
        identified.append({"pattern": "peak_hour", "value": temporal["peak_hour"]})
    return temporal


def _feature_usage(w: _Window, identified: list[dict]) -> dict[str, Any]:
    """Top features and co-usage pairs (by users for one account with raw events, else by clients)."""
    used = FeatureUsageDaily.objects.filter(
        client_id__in=w.ids, date__gte=w.w0, date__lte=w.as_of, events__gt=0
    )
    totals = list(
        used.values("feature_key")
        .annotate(events=Sum("events"), clients=Count("client", distinct=True))
        .order_by("-events", "feature_key")
    )
    sets: dict[str, set] = defaultdict(set)
    if len(w.ids) == 1 and w.raw_ok:
        for key, user in (
            UsageEvent.objects.filter(
                client_id__in=w.ids, occurred_at__gte=w.start_at, occurred_at__lt=w.end_at
            )
            .exclude(user_id__startswith=ANON_PREFIX)
            .values_list("feature_key", "user_id")
            .distinct()
        ):
            sets[key].add(user)
        basis = "users"
    else:
        for cid, key in used.values_list("client_id", "feature_key").distinct():
            sets[key].add(cid)
        basis = "clients"
    out = {
        "top_features": [
            {"feature_key": x["feature_key"], "events": x["events"], "clients": x["clients"]}
            for x in totals[:10]
        ],
        "co_usage_pairs": jaccard_pairs(sets),
        "co_usage_basis": basis,
    }
    if out["co_usage_pairs"]:
        identified.append({"pattern": "top_co_usage_pair", "value": out["co_usage_pairs"][0]["features"]})
    return out


def _communication(w: _Window) -> dict[str, Any]:
    """E-mail open / click rates (tracked e-mails only) and engagement events per client."""
    email = apps.get_model("communication", "EmailMessage")
    engagement = (
        apps.get_model("customers", "TimelineEvent")
        .objects.filter(
            client_id__in=w.ids,
            counts_as_engagement=True,
            occurred_at__gte=w.start_at,
            occurred_at__lt=w.end_at,
        )
        .count()
    )
    agg = email.objects.filter(
        client_id__in=w.ids, is_internal=False, sent_at__gte=w.start_at, sent_at__lt=w.end_at, status="sent"
    ).aggregate(
        sent=Count("id"),
        tracked=Count("id", filter=Q(track_opens=True)),
        opened=Count("id", filter=Q(track_opens=True, opened_at__isnull=False)),
        tracked_clicks=Count("id", filter=Q(track_clicks=True)),
        clicked=Count("id", filter=Q(track_clicks=True, clicked_at__isnull=False)),
    )
    if not agg["tracked"]:
        w.gaps.append(gap("communication_patterns.open_rate", "tracking_unavailable", "No tracked e-mail."))
    if not agg["tracked_clicks"]:
        w.gaps.append(gap("communication_patterns.click_rate", "tracking_unavailable", "No tracked e-mail."))
    return {
        "emails_sent": agg["sent"],
        "open_rate": r(agg["opened"] / agg["tracked"], 4) if agg["tracked"] else None,
        "click_rate": r(agg["clicked"] / agg["tracked_clicks"], 4) if agg["tracked_clicks"] else None,
        "engagement_events_per_client": r(engagement / len(w.ids), 2) if w.ids else None,
    }


def _support(w: _Window) -> dict[str, Any]:
    """Tickets per client per 30 days, category mix and median resolution time in W."""
    ticket = apps.get_model("support", "Ticket")
    mix = Counter(
        dict(
            ticket.objects.filter(client_id__in=w.ids, created_at__gte=w.start_at, created_at__lt=w.end_at)
            .values("category")
            .annotate(n=Count("id"))
            .values_list("category", "n")
        )
    )
    total = sum(mix.values())
    hours = [
        (res - created).total_seconds() / 3600
        for created, res in ticket.objects.filter(
            client_id__in=w.ids, resolved_at__gte=w.start_at, resolved_at__lt=w.end_at
        ).values_list("created_at", "resolved_at")
    ]
    if not hours:
        w.gaps.append(
            gap("support_patterns.median_resolution_hours", "not_enough_data", "No ticket resolved.")
        )
    return {
        "tickets": total,
        "tickets_per_client_per_30d": r(total / len(w.ids) / (w.days / 30), 2) if w.ids else None,
        "category_mix": {k: r(v / total, 4) for k, v in sorted(mix.items())} if total else {},
        "median_resolution_hours": r(statistics.median(hours), 1) if hours else None,
    }


def _dominant_cohorts(rows: list[dict], days: int) -> tuple[Counter, dict[int, str]]:
    """User counts per cohort over all clients, and each client's dominant cohort (ties: alphabetical)."""
    per: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        per[row["client_id"]].append(row)
    total, dom = Counter(), {}
    for cid, rs in per.items():
        counts = {k: len(v) for k, v in user_cohorts(rs, days).items()}
        for k, v in counts.items():
            total[k] += v
        if any(counts.values()):
            dom[cid] = max(sorted(counts), key=lambda k: counts[k])
    return total, dom


def _personas(w: _Window) -> tuple[dict[str, int], dict[str, int]]:
    """User personas in W and the clients whose dominant persona changed since P (``from->to`` counts)."""
    personas_now, dom_now = _dominant_cohorts(cohort_rows(w.ids, w.w0, w.as_of, w.days), w.days)
    _, dom_prev = _dominant_cohorts(cohort_rows(w.ids, w.p0, w.w0 - D(days=1), w.days), w.days)
    transitions = Counter(
        f"{dom_prev[c]}->{dom_now[c]}" for c in set(dom_now) & set(dom_prev) if dom_now[c] != dom_prev[c]
    )
    return {k: personas_now.get(k, 0) for k in PERSONAS}, dict(sorted(transitions.items()))


def _success_patterns(w: _Window) -> dict[str, Any]:
    """Medians over the clients in the low risk band: stickiness and core breadth (latest snapshot inputs),
    milestones achieved. A median without a value has a data gap (TOOLS §0.6)."""
    low = [pk for pk, c in w.clients.items() if c["risk_level"] == "low"]
    success = {
        "clients": len(low),
        "median_stickiness": None,
        "median_core_breadth": None,
        "median_milestones_achieved": None,
    }
    if not low:
        w.gaps += [
            gap(f"success_patterns.{k}", "not_enough_data", "No low-risk client.") for k in list(success)[1:]
        ]
        return success
    latest_inputs = Subquery(
        HealthSnapshot.objects.filter(client=OuterRef("pk")).order_by("-as_of").values("inputs")[:1],
        output_field=JSONField(),
    )
    stick, breadth = [], []
    for inputs in Client.objects.filter(pk__in=low).annotate(i=latest_inputs).values_list("i", flat=True):
        usage = (inputs or {}).get("usage") or {}
        if usage.get("stickiness") is not None:
            stick.append(usage["stickiness"])
        if usage.get("core_breadth") is not None:
            breadth.append(usage["core_breadth"])
    ms = dict(
        ClientMilestone.objects.filter(client_id__in=low)
        .values("client_id")
        .annotate(n=Count("id"))
        .values_list("client_id", "n")
    )
    missing = [k for k, v in (("median_stickiness", stick), ("median_core_breadth", breadth)) if not v]
    w.gaps += [gap(f"success_patterns.{k}", "not_enough_data", "Not in low-risk snapshots.") for k in missing]
    success.update(
        median_stickiness=r(statistics.median(stick), 4) if stick else None,
        median_core_breadth=r(statistics.median(breadth), 4) if breadth else None,
        median_milestones_achieved=statistics.median([ms.get(pk, 0) for pk in low]),
    )
    return success


def _risk_facts(w: _Window) -> dict[str, Any]:
    """Per client: active-user sums in W and P, tickets in W and P, each user's events in W, e-mails sent and
    engagement in the last 30 days — what PAT-01…PAT-03 read."""
    ticket = apps.get_model("support", "Ticket")
    email = apps.get_model("communication", "EmailMessage")

    def per_client(qs) -> dict[int, int]:
        return dict(qs.values("client_id").annotate(n=Count("id")).values_list("client_id", "n"))

    user_share: dict[int, list[int]] = defaultdict(list)
    for row in (
        UserActivityDaily.objects.filter(
            client_id__in=w.ids, date__gte=w.w0, date__lte=w.as_of, counting_events__gt=0
        )
        .exclude(user_id__startswith=ANON_PREFIX)
        .values("client_id", "user_id")
        .annotate(n=Sum("counting_events"))
    ):
        user_share[row["client_id"]].append(row["n"])
    last30 = day_bounds(w.as_of - D(days=29))[0]
    return {
        "aud": {
            x["client_id"]: x
            for x in ClientUsageDaily.objects.filter(client_id__in=w.ids, date__gte=w.p0, date__lte=w.as_of)
            .values("client_id")
            .annotate(
                w=Sum("active_users", filter=Q(date__gte=w.w0)),
                p=Sum("active_users", filter=Q(date__lt=w.w0)),
            )
        },
        "tickets_w": per_client(
            ticket.objects.filter(client_id__in=w.ids, created_at__gte=w.start_at, created_at__lt=w.end_at)
        ),
        "tickets_p": per_client(
            ticket.objects.filter(
                client_id__in=w.ids, created_at__gte=day_bounds(w.p0)[0], created_at__lt=w.start_at
            )
        ),
        "user_share": user_share,
        "sent30": per_client(
            email.objects.filter(client_id__in=w.ids, is_internal=False, status="sent", sent_at__gte=last30)
        ),
        "engaged30": set(
            apps.get_model("customers", "TimelineEvent")
            .objects.filter(client_id__in=w.ids, counts_as_engagement=True, occurred_at__gte=last30)
            .values_list("client_id", flat=True)
        ),
    }


def _risk_patterns(w: _Window) -> list[dict]:
    """PAT-01 friction (usage decreasing and ≥ 2 more tickets than P), PAT-02 usage concentrated in one user,
    PAT-03 e-mails without response."""
    f = _risk_facts(w)
    tickets_w, tickets_p, sent30 = f["tickets_w"], f["tickets_p"], f["sent30"]
    risk = []
    for pk in sorted(w.ids, key=lambda p: w.clients[p]["client_id"]):
        c = w.clients[pk]
        a = f["aud"].get(pk) or {}
        if (
            trend_10pct(a.get("w") or 0, a.get("p") or 0) == "decreasing"
            and tickets_w.get(pk, 0) >= tickets_p.get(pk, 0) + 2
        ):
            risk.append(
                finding(
                    "PAT-01",
                    f"Friction at {c['client_name']}",
                    "Run a friction review.",
                    Priority.HIGH,
                    {
                        "client_id": c["client_id"],
                        "aud_w": a.get("w") or 0,
                        "aud_p": a.get("p") or 0,
                        "tickets_w": tickets_w.get(pk, 0),
                        "tickets_p": tickets_p.get(pk, 0),
                    },
                )
            )
        shares = sorted(f["user_share"].get(pk, []), reverse=True)
        if len(shares) >= 3 and shares[0] / sum(shares) >= 0.5:
            risk.append(
                finding(
                    "PAT-02",
                    f"Usage concentrated in one user at {c['client_name']}",
                    "Broaden adoption beyond one user.",
                    Priority.MEDIUM,
                    {
                        "client_id": c["client_id"],
                        "top_user_share": r(shares[0] / sum(shares), 4),
                        "active_users": len(shares),
                    },
                )
            )
        if sent30.get(pk, 0) >= 3 and pk not in f["engaged30"]:
            risk.append(
                finding(
                    "PAT-03",
                    f"No response to e-mail at {c['client_name']}",
                    "Change channel; schedule a CSM call.",
                    Priority.MEDIUM,
                    {"client_id": c["client_id"], "emails_sent_30d": sent30[pk], "engagement_events_30d": 0},
                )
            )
    return risk


def _anomalies(ids: list[int], clients: dict, w0: dt.date, w1: dt.date) -> list[dict]:
    """RULES §3.4 daily anomalies on events and DAU: z vs the previous 28 days (≥ 14 prior days, std > 0)."""
    lo = w0 - D(days=28)
    first = dict(
        ClientUsageDaily.objects.filter(client_id__in=ids)
        .values("client_id")
        .annotate(f=Min("date"))
        .values_list("client_id", "f")
    )
    series: dict[int, dict[dt.date, tuple[int, int]]] = defaultdict(dict)
    for cid, day, ev, au in ClientUsageDaily.objects.filter(
        client_id__in=ids, date__gte=lo, date__lte=w1
    ).values_list("client_id", "date", "events", "active_users"):
        series[cid][day] = (ev, au)
    out = []
    for cid, values in series.items():
        start = first.get(cid)
        day = w0
        while day <= w1:
            prior_days = [day - D(days=k) for k in range(28, 0, -1) if day - D(days=k) >= start]
            if len(prior_days) >= 14:
                for idx, metric in ((0, "events"), (1, "active_users")):
                    prior = [values.get(d, (0, 0))[idx] for d in prior_days]
                    mean = sum(prior) / len(prior)
                    std = statistics.pstdev(prior)
                    if std > 0:
                        v = values.get(day, (0, 0))[idx]
                        z = (v - mean) / std
                        if abs(z) >= ANOMALY_Z:
                            out.append(
                                {
                                    "client_id": clients[cid]["client_id"],
                                    "date": day.isoformat(),
                                    "metric": metric,
                                    "value": v,
                                    "expected": r(mean, 2),
                                    "z": r(z, 2),
                                    "kind": "spike" if z > 0 else "drop",
                                }
                            )
            day += D(days=1)
    return sorted(out, key=lambda a: (a["date"], a["client_id"], a["metric"]))


def _pat04(ids: list[int], clients: dict, as_of: dt.date, gaps: list) -> list[dict]:
    """PAT-04: weekly active users projected by OLS (≥ 8 complete weeks) ≥ 30 % below current in 4 weeks.

    Weeks are ISO weeks (Monday first); the last one read is the last complete week before as-of's."""
    this_monday = as_of - D(days=as_of.weekday())
    weeks = [this_monday - D(weeks=PAT04_WEEKS - i) for i in range(PAT04_WEEKS)]
    weekly: dict[int, dict[dt.date, int]] = defaultdict(dict)
    for row in (
        UserActivityDaily.objects.filter(
            client_id__in=ids, date__gte=weeks[0], date__lt=this_monday, counting_events__gt=0
        )
        .exclude(user_id__startswith=ANON_PREFIX)
        .annotate(b=Trunc("date", "week", output_field=DateField()))
        .values("client_id", "b")
        .annotate(n=Count("user_id", distinct=True))
    ):
        weekly[row["client_id"]][row["b"]] = row["n"]
    out = []
    enough = 0
    for cid in sorted(ids, key=lambda p: clients[p]["client_id"]):
        data = weekly.get(cid, {})
        if not data:
            continue
        first = min(data)
        pts = [(i, data.get(b, 0)) for i, b in enumerate(weeks) if b >= first]
        if len(pts) < 8:
            continue
        enough += 1
        fit = ols([float(x) for x, _ in pts], [float(y) for _, y in pts])
        current = pts[-1][1]
        if fit is None or current <= 0:
            continue
        projected = max(0.0, fit["intercept"] + fit["slope"] * (pts[-1][0] + 4))
        if projected <= PAT04_DECLINE * current:
            out.append(
                finding(
                    "PAT-04",
                    f"Projected usage decline at {clients[cid]['client_name']}",
                    "Start an early usage intervention.",
                    Priority.HIGH,
                    {
                        "client_id": clients[cid]["client_id"],
                        "current_weekly_active_users": current,
                        "projected_in_4_weeks": r(projected, 1),
                        "weeks_of_data": len(pts),
                    },
                )
            )
    if not enough:
        gaps.append(gap("predictive_insights", "insufficient_history", "No client has ≥ 8 weeks of usage."))
    return out


def engagement_patterns(
    *,
    analysis_scope: str = "all_customers",
    scope_filter: dict | None = None,
    pattern_types: list[str] | None = None,
    lookback_period_days: int = 90,
    anomaly_detection: bool = True,
    predictive_insights: bool = True,
) -> dict[str, Any]:
    """The ``analyze_engagement_patterns`` result for the scope over the last ``lookback_period_days`` days."""
    pattern_types = list(pattern_types if pattern_types is not None else PATTERN_TYPES)
    for i, p in enumerate(pattern_types):
        if p not in PATTERN_TYPES:
            raise InvalidParameter(f"Unknown pattern type {p!r}.", field=f"pattern_types[{i}]")
    as_of = today()
    clients_qs = _scope_clients(analysis_scope, scope_filter, as_of)
    rollup_pending()
    clients = {x["pk"]: x for x in clients_qs.values("pk", "client_id", "client_name", "risk_level")}
    w = _Window(ids=list(clients), clients=clients, as_of=as_of, days=lookback_period_days)
    identified: list[dict] = []
    temporal = _temporal(w, identified) if "temporal" in pattern_types else None
    feature_patterns = _feature_usage(w, identified) if "feature_usage" in pattern_types else None
    communication = _communication(w) if "communication" in pattern_types else None
    support = _support(w) if "support" in pattern_types else None
    personas, transitions = _personas(w)
    success = _success_patterns(w)
    risk = _risk_patterns(w)
    findings = list(risk)
    anomalies = _anomalies(w.ids, clients, w.w0, as_of) if anomaly_detection else None
    predictions = None
    if predictive_insights:
        predictions = _pat04(w.ids, clients, as_of, w.gaps)
        findings += predictions
    return {
        "analysis_id": stable_id(
            "ana",
            "analyze_engagement_patterns",
            {
                "scope": analysis_scope,
                "filter": scope_filter,
                "types": pattern_types,
                "days": lookback_period_days,
                "as_of": as_of.isoformat(),
            },
        ),
        "analysis_timestamp": timezone.now().isoformat(),
        "analysis_scope": analysis_scope,
        "customers_analyzed": len(w.ids),
        "identified_patterns": identified,
        "temporal_patterns": temporal,
        "feature_usage_patterns": feature_patterns,
        "communication_patterns": communication,
        "support_patterns": support,
        "user_personas": personas,
        "success_patterns": success,
        "risk_patterns": sort_findings(risk),
        "anomalies": anomalies,
        "pattern_transitions": transitions,
        "predictive_insights": predictions,
        "engagement_optimization": sort_findings([f for f in risk if f["rule_id"] in ("PAT-02", "PAT-03")]),
        "recommended_actions": sort_findings(findings),
        "data_gaps": w.gaps,
    }
