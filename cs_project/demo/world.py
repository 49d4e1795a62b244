"""Generators of the demo world, one per app, called in order by ``manage.py seed_demo``.

Demo data only: randomness is allowed here (and in benchmarks), never in services or tools. Each generator
receives the command (its ``rng``, ``as_of``, ``days``, ``bulk`` and ``progress``) and the generated accounts,
and returns ``{model label: rows written}``.
"""

import datetime as dt
import json
import math
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from customers.choices import AccountStatus, LifecycleStage, Tier
from customers.models import TimelineEvent

UTC = dt.UTC

# feature_key, name, category, is_core, min_tier, counts_as_activity, is_value_event
FEATURES = [
    ("login", "Login", "admin", False, Tier.STARTER, False, False),
    ("dashboard.view", "Dashboard", "core", True, Tier.STARTER, True, False),
    ("reports.create", "Create report", "core", True, Tier.STARTER, True, True),
    ("reports.export", "Export report", "core", True, Tier.STANDARD, True, False),
    ("projects.manage", "Projects", "core", True, Tier.STARTER, True, False),
    ("tasks.update", "Tasks", "core", True, Tier.STARTER, True, False),
    ("comments.post", "Comments", "core", True, Tier.STANDARD, True, False),
    ("automation.run", "Automations", "advanced", False, Tier.PROFESSIONAL, True, False),
    ("forecast.run", "Forecasting", "advanced", False, Tier.ENTERPRISE, True, False),
    ("integrations.salesforce", "Salesforce sync", "integration", False, Tier.STANDARD, True, False),
    ("integrations.slack", "Slack app", "integration", False, Tier.STARTER, True, False),
    ("admin.users", "User admin", "admin", False, Tier.STARTER, True, False),
]
EVENT_NAMES = {key: name for key, name, *_ in FEATURES}
ACTIVE_KEYS = [f[0] for f in FEATURES if f[0] != "login"]
FEATURE_WEIGHTS = [30, 18, 8, 16, 20, 8, 4, 2, 3, 3, 2]


def features(cmd, accounts) -> dict[str, int]:
    from health.models import Feature

    existing = set(Feature.objects.values_list("feature_key", flat=True))
    rows = [
        Feature(
            feature_key=key,
            name=name,
            category=category,
            is_core=is_core,
            min_tier=min_tier,
            counts_as_activity=counts,
            is_value_event=value,
            catalogued=True,
        )
        for key, name, category, is_core, min_tier, counts, value in FEATURES
        if key not in existing
    ]
    return {"health.Feature": cmd.bulk(Feature, rows)}


def _activity_factor(trend: str, day_index: int, days: int) -> float:
    """Share of the account's regular users active on a day, shaped by its trend."""
    x = day_index / max(1, days - 1)
    if trend == "growing":
        return 0.45 + 0.5 * x
    if trend == "declining":
        return max(0.05, 0.85 - 0.75 * x)
    if trend == "quiet":
        return 0.8 if x < 0.45 else 0.0
    return 0.7


def usage(cmd, accounts) -> dict[str, int]:
    """Usage events per account and day, then the daily roll-ups built from them by the health app."""
    from health import rollups
    from health.models import UsageEvent

    rng, as_of, days = cmd.rng, cmd.as_of, cmd.days
    first_day = as_of - dt.timedelta(days=days - 1)
    received = timezone.now()
    total = 0
    batch: list[tuple] = []
    columns = (
        "client_id",
        "user_id",
        "event_name",
        "feature_key",
        "occurred_at",
        "quantity",
        "properties",
        "source",
        "message_id",
        "received_at",
    )

    def flush():
        nonlocal batch, total
        if not batch:
            return
        if connection.vendor == "postgresql":
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(f"COPY health_usageevent ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                for row in batch:
                    copy.write_row(row)
        else:
            UsageEvent.objects.bulk_create(
                [UsageEvent(**dict(zip(columns, row, strict=True))) for row in batch], batch_size=5000
            )
        total += len(batch)
        batch = []

    for acc in cmd.progress(accounts, "usage"):
        if acc.stage == LifecycleStage.ONBOARDING and (as_of - acc.start).days < 5 and rng.random() < 0.5:
            continue  # some brand-new accounts have not sent any event yet
        regular_users = max(1, min(8, round(acc.seats * rng.uniform(0.1, 0.35))))
        users = [f"u{n}" for n in range(1, regular_users + 3)]
        seq = 0
        start_day = max(first_day, acc.start)
        for day_index in range(days):
            day = first_day + dt.timedelta(days=day_index)
            if day < start_day or (acc.status == AccountStatus.CHURNED and day > acc.end):
                continue
            weekend = day.weekday() >= 5
            share = _activity_factor(acc.trend, day_index, days) * (0.3 if weekend else 1.0)
            for user in users[:regular_users] if share > 0 else []:
                if rng.random() > share:
                    continue
                base = dt.datetime.combine(day, dt.time(8), tzinfo=UTC) + dt.timedelta(
                    minutes=rng.randint(0, 600)
                )
                session = f"s{seq}"
                picks = ["login"] + rng.choices(ACTIVE_KEYS, weights=FEATURE_WEIGHTS, k=rng.randint(1, 3))
                for offset, key in enumerate(picks):
                    seq += 1
                    batch.append(
                        (
                            acc.pk,
                            user,
                            EVENT_NAMES[key],
                            key,
                            base + dt.timedelta(minutes=3 * offset),
                            Decimal(1),
                            json.dumps({"session_id": session})
                            if connection.vendor == "postgresql"
                            else {"session_id": session},
                            "api",
                            f"demo-{acc.client_id}-{seq}",
                            received,
                        )
                    )
            if len(batch) >= 20000:
                flush()
    flush()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE health_usageevent")
    ids = [a.pk for a in accounts]
    for start in range(0, len(ids), 2000):
        rollups.rebuild_range(ids[start : start + 2000], first_day, as_of)
    return {"health.UsageEvent": total}


def support(cmd, accounts) -> dict[str, int]:
    from support.models import Ticket, TicketComment

    rng, as_of = cmd.rng, cmd.as_of
    categories = [
        "technical_issue",
        "bug_report",
        "how_to_question",
        "feature_request",
        "account_billing",
        "integration_support",
        "performance",
        "data_issue",
    ]
    sla = {"P0": (5, 60), "P1": (15, 240), "P2": (60, 1440), "P3": (240, 2880), "P4": (480, 4320)}
    tickets = []
    for acc in cmd.progress(accounts, "tickets"):
        n = rng.choices([0, 1, 2, 3, 5, 8], weights=[25, 25, 20, 15, 10, 5])[0]
        if acc.stage == LifecycleStage.AT_RISK:
            n += 3
        for _ in range(n):
            created = dt.datetime.combine(
                as_of - dt.timedelta(days=rng.randint(0, 75)), dt.time(9), tzinfo=UTC
            )
            created += dt.timedelta(minutes=rng.randint(0, 480))
            priority = rng.choices(list(sla), weights=[2, 8, 35, 35, 20])[0]
            first_allow, res_allow = sla[priority]
            breach = rng.random() < (0.35 if acc.stage == LifecycleStage.AT_RISK else 0.1)
            first_resp = created + dt.timedelta(
                minutes=first_allow * (rng.uniform(1.2, 3) if breach else rng.uniform(0.1, 0.9))
            )
            resolved = None
            status = "open"
            if (timezone.now() - created).days > 2 and rng.random() < 0.85:
                resolved = created + dt.timedelta(
                    minutes=res_allow * (rng.uniform(1.1, 2.5) if breach else rng.uniform(0.2, 0.95))
                )
                status = "closed" if rng.random() < 0.6 else "resolved"
            if resolved and resolved > timezone.now():
                resolved, status = None, "in_progress"
            if first_resp > timezone.now():
                first_resp = None
            rating = (
                rng.choices([None, 5, 4, 3, 2, 1], weights=[50, 20, 15, 7, 5, 3])[0] if resolved else None
            )
            email = rng.choice(acc.contact_emails)[0]
            tickets.append(
                Ticket(
                    client_id=acc.pk,
                    requester_email=email,
                    subject=f"{rng.choice(categories).replace('_', ' ').title()} question",
                    description="Demo ticket.",
                    priority=priority,
                    status=status,
                    category=rng.choice(categories),
                    channel=rng.choice(["email", "portal", "chat"]),
                    created_at=created,
                    first_response_at=first_resp,
                    first_response_due_at=created + dt.timedelta(minutes=first_allow),
                    resolution_due_at=created + dt.timedelta(minutes=res_allow),
                    resolved_at=resolved,
                    closed_at=resolved if status == "closed" else None,
                    satisfaction_rating=rating,
                    rated_at=resolved if rating else None,
                )
            )
    written = cmd.bulk(Ticket, tickets)
    comments = [
        TicketComment(
            ticket_id=pk,
            body="Thanks, we are looking into it.",
            is_public=True,
            author_kind="agent",
            created_at=first,
        )
        for pk, first in Ticket.objects.filter(
            client_id__in=[a.pk for a in accounts], first_response_at__isnull=False
        ).values_list("pk", "first_response_at")
    ]
    return {"support.Ticket": written, "support.TicketComment": cmd.bulk(TicketComment, comments)}


def feedback(cmd, accounts) -> dict[str, int]:
    from feedback.models import SurveyResponse

    rng, as_of = cmd.rng, cmd.as_of
    rows = []
    nps_by_stage = {
        LifecycleStage.AT_RISK: [2, 4, 5, 6, 6, 7],
        LifecycleStage.EXPANSION: [8, 9, 9, 10, 10],
        LifecycleStage.CHURNED: [0, 2, 3, 5],
    }
    for acc in cmd.progress(accounts, "surveys"):
        for email, _role in acc.contact_emails:
            if rng.random() < 0.55:
                score = rng.choice(nps_by_stage.get(acc.stage, [6, 7, 8, 8, 9, 9, 10]))
                when = dt.datetime.combine(
                    as_of - dt.timedelta(days=rng.randint(0, 120)), dt.time(12), tzinfo=UTC
                )
                rows.append(
                    SurveyResponse(
                        client_id=acc.pk,
                        respondent_email=email,
                        survey_type="nps",
                        score=score,
                        responded_at=when,
                        source="survey",
                        follow_up_status="required" if score <= 6 else "not_required",
                    )
                )
            if rng.random() < 0.35:
                when = dt.datetime.combine(
                    as_of - dt.timedelta(days=rng.randint(0, 90)), dt.time(15), tzinfo=UTC
                )
                rows.append(
                    SurveyResponse(
                        client_id=acc.pk,
                        respondent_email=email,
                        survey_type="csat",
                        score=rng.choice([2, 3, 4, 4, 5, 5]),
                        responded_at=when,
                        source="survey",
                    )
                )
    return {"feedback.SurveyResponse": cmd.bulk(SurveyResponse, rows)}


def engagement(cmd, accounts) -> dict[str, int]:
    """Meetings and calls logged by CSMs: timeline entries that count as engagement (RULES §4.2.2)."""
    rng, as_of = cmd.rng, cmd.as_of
    rows = []
    last: dict[int, dt.date] = {}
    for acc in accounts:
        gap = {"quiet": (35, 120), "declining": (10, 40)}.get(acc.trend, (0, 12))
        latest = as_of - dt.timedelta(days=rng.randint(*gap))
        for k in range(rng.randint(1, 4)):
            day = latest - dt.timedelta(days=21 * k)
            if day < acc.start:
                break
            rows.append(
                TimelineEvent(
                    client_id=acc.pk,
                    occurred_at=dt.datetime.combine(day, dt.time(14), tzinfo=UTC),
                    event_type="communication",
                    title=rng.choice(
                        ["Check-in call", "Success review meeting", "E-mail reply from customer"]
                    ),
                    actor="system:seed_demo",
                    source_type="meeting",
                    counts_as_engagement=True,
                )
            )
            last[acc.pk] = max(last.get(acc.pk, day), day)
    written = cmd.bulk(TimelineEvent, rows)
    from customers.models import Client

    clients = list(Client.objects.filter(pk__in=list(last)))
    for client in clients:
        client.last_engagement_date = last[client.pk]
    Client.objects.bulk_update(clients, ["last_engagement_date"], batch_size=2000)
    return {"customers.TimelineEvent": written}


def onboarding(cmd, accounts) -> dict[str, int]:
    from onboarding.models import MilestoneTemplate, OnboardingMilestone, OnboardingPlan

    rng, as_of = cmd.rng, cmd.as_of
    templates = list(MilestoneTemplate.objects.filter(key__in=["M1", "M2", "M3", "M4"]).order_by("sequence"))
    plans, specs = [], []
    for acc in accounts:
        if acc.stage != LifecycleStage.ONBOARDING:
            continue
        weeks = rng.choice([4, 6, 8])
        start = acc.start
        plans.append(
            OnboardingPlan(
                client_id=acc.pk,
                plan_name=f"{acc.client_id} onboarding",
                product_tier=acc.tier,
                team_size=acc.seats,
                technical_complexity=rng.choice(["low", "medium", "high"]),
                customer_goals=["Roll out to the whole team", "Replace spreadsheets"],
                start_date=start,
                target_completion_date=start + dt.timedelta(days=7 * weeks - 1),
                timeline_weeks=weeks,
                total_estimated_hours=sum(t.estimated_hours for t in templates),
                status="in_progress",
            )
        )
        specs.append((weeks, start))
    written = cmd.bulk(OnboardingPlan, plans)
    saved = list(
        OnboardingPlan.objects.filter(client_id__in=[p.client_id for p in plans]).order_by("client_id")
    )
    by_client = {p.client_id: (w, s) for p, (w, s) in zip(plans, specs, strict=True)}
    milestones = []
    for plan in saved:
        weeks, start = by_client[plan.client_id]
        for t in templates:
            due_week = math.ceil(t.template_week * weeks / 4)
            due = start + dt.timedelta(days=due_week * 7 - 1)
            done = due < as_of - dt.timedelta(days=rng.randint(-5, 10))
            completed_at = dt.datetime.combine(min(due, as_of), dt.time(16), tzinfo=UTC) if done else None
            milestones.append(
                OnboardingMilestone(
                    plan_id=plan.pk,
                    template=t,
                    key=t.key,
                    name=t.name,
                    sequence=t.sequence,
                    due_date=due,
                    estimated_hours=t.estimated_hours,
                    status="completed"
                    if done
                    else ("in_progress" if due - as_of < dt.timedelta(days=8) else "not_started"),
                    depends_on=t.depends_on,
                    success_criteria=t.success_criteria,
                    completed_at=completed_at,
                    status_changed_at=completed_at,
                )
            )
    return {
        "onboarding.OnboardingPlan": written,
        "onboarding.OnboardingMilestone": cmd.bulk(OnboardingMilestone, milestones),
    }


GENERATORS = [
    ("features", features),
    ("usage", usage),
    ("support", support),
    ("feedback", feedback),
    ("engagement", engagement),
    ("onboarding", onboarding),
]


def score_all(cmd) -> None:
    """Score every active account for the as-of day with the same job the nightly schedule runs."""
    from cs_project.core.context import Actor
    from health.services import health_scoring_run

    health_scoring_run(as_of=cmd.as_of, actor=Actor.system("seed_demo"))
