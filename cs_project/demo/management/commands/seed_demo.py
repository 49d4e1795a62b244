"""Build a coherent, linked demo world with bulk inserts. Deterministic per --seed (and --as-of).

Randomness is allowed here and only here (demo and benchmark data): services and tools never invent numbers.
"""

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.management import BaseCommand, CommandError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from tqdm import tqdm

from cs_project.demo.world import GENERATORS, score_all
from customers.choices import (
    AccountStatus,
    ArrMovementKind,
    ContactRole,
    ContractType,
    InvoiceStatus,
    LifecycleStage,
    PaymentStatus,
    Tier,
)
from customers.models import (
    ArrMovement,
    Client,
    Contact,
    Contract,
    Invoice,
    LifecycleStageHistory,
    TimelineEvent,
)
from health.selectors import value_tier_for_arr

BATCH = 5000
INDUSTRIES = [
    "Technology",
    "Healthcare",
    "Finance",
    "Retail",
    "Manufacturing",
    "Education",
    "Media",
    "Logistics",
]
WORDS_A = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Aperture",
    "Massive",
    "Nakatomi",
    "Monarch",
    "Pied",
    "Dunder",
]
WORDS_B = [
    "Labs",
    "Systems",
    "Health",
    "Capital",
    "Retail",
    "Works",
    "Dynamics",
    "Logistics",
    "Media",
    "Foods",
    "Analytics",
    "Cloud",
    "Partners",
    "Robotics",
    "Energy",
    "Bank",
    "Studios",
    "Piper",
    "Mifflin",
    "Group",
]
FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Hedy",
    "John",
    "Katherine",
    "Guido",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "Backus",
    "Johnson",
    "van Rossum",
]
# (tier, weight, ARR range): together they cover every value tier of RULES §6.1.
TIER_PLAN = [
    (Tier.STARTER, 30, (2_000, 12_000)),
    (Tier.STANDARD, 35, (10_000, 60_000)),
    (Tier.PROFESSIONAL, 22, (45_000, 150_000)),
    (Tier.ENTERPRISE, 13, (120_000, 600_000)),
]
SEATS = {
    Tier.STARTER: (3, 10),
    Tier.STANDARD: (10, 40),
    Tier.PROFESSIONAL: (25, 120),
    Tier.ENTERPRISE: (80, 500),
}
STAGE_WEIGHTS = [
    (LifecycleStage.ONBOARDING, 12),
    (LifecycleStage.ACTIVE, 45),
    (LifecycleStage.AT_RISK, 12),
    (LifecycleStage.EXPANSION, 10),
    (LifecycleStage.RENEWAL, 13),
    (LifecycleStage.CHURNED, 8),
]
TRENDS = ["growing", "flat", "declining", "quiet"]


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights, k=1)[0]


@dataclass
class DemoAccount:
    """What the generators of every app need to know about one generated account."""

    pk: int
    client_id: str
    tier: str
    stage: str
    status: str
    arr: Decimal
    seats: int
    start: dt.date
    end: dt.date
    trend: str
    contact_emails: list = field(default_factory=list)
    contract_pk: int | None = None


class Command(BaseCommand):
    help = "Generate demo accounts with contacts, contracts, usage, tickets, surveys and onboarding plans."

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=200)
        parser.add_argument("--days", type=int, default=60, help="days of usage history")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--as-of", type=dt.date.fromisoformat, default=None, help="last day (default today)"
        )
        parser.add_argument("--no-score", action="store_true", help="skip the health scoring run at the end")
        parser.add_argument("--quiet", action="store_true", help="no progress bars")

    def handle(self, *args, **opts):
        if opts["accounts"] < 1 or opts["days"] < 1:
            raise CommandError("--accounts and --days must be positive")
        if Client.objects.filter(client_id__startswith="demo_").exists():
            raise CommandError("Demo accounts already exist; use a fresh database.")
        self.rng = random.Random(opts["seed"])
        self.as_of = opts["as_of"] or timezone.localdate()
        self.days = opts["days"]
        self.quiet = opts["quiet"]
        self.counts: dict[str, int] = {}
        started = timezone.now()
        accounts = self._accounts(opts["accounts"])
        for name, generator in GENERATORS:
            phase_started = timezone.now()
            with transaction.atomic():
                written = generator(self, accounts)
            if not self.quiet:
                seconds = (timezone.now() - phase_started).total_seconds()
                self.stdout.write(f"  {name}: {sum(written.values())} rows in {seconds:.1f}s")
            for model_name, n in written.items():
                self.counts[model_name] = self.counts.get(model_name, 0) + n
        if not opts["no_score"]:
            score_all(self)
        seconds = (timezone.now() - started).total_seconds()
        total = sum(self.counts.values())
        for model_name, n in sorted(self.counts.items()):
            self.stdout.write(f"  {model_name:<28} {n:>10}")
        self.stdout.write(
            self.style.SUCCESS(f"Seeded {len(accounts)} accounts, {total} rows in {seconds:.1f}s")
        )

    def progress(self, iterable, desc: str, total: int | None = None):
        return tqdm(iterable, desc=desc, total=total, disable=self.quiet, unit="acct", leave=False)

    def bulk(self, model, rows, desc: str | None = None) -> int:
        """bulk_create in batches; returns the number of rows written."""
        written = 0
        for start in range(0, len(rows), BATCH):
            model.objects.bulk_create(rows[start : start + BATCH], batch_size=BATCH)
            written += len(rows[start : start + BATCH])
        return written

    @transaction.atomic
    def _accounts(self, n: int) -> list[DemoAccount]:
        rng, as_of = self.rng, self.as_of
        now = timezone.now()
        clients, plans = [], []
        for i in range(n):
            tier, _, (lo, hi) = _weighted(rng, [((t, w, r), w) for t, w, r in TIER_PLAN])
            stage = _weighted(rng, STAGE_WEIGHTS)
            arr = Decimal(rng.randrange(lo, hi, 500))
            # Renewal dates spread over the coming year; onboarding accounts started recently.
            if stage == LifecycleStage.ONBOARDING:
                start = as_of - dt.timedelta(days=rng.randint(3, 80))
                end = start + dt.timedelta(days=365)
            elif stage == LifecycleStage.RENEWAL:
                end = as_of + dt.timedelta(days=rng.randint(5, 88))
                start = end - dt.timedelta(days=365)
            elif stage == LifecycleStage.CHURNED:
                end = as_of - dt.timedelta(days=rng.randint(1, 60))
                start = end - dt.timedelta(days=365)
            else:
                end = as_of + dt.timedelta(days=rng.randint(91, 365))
                start = end - dt.timedelta(days=365 * rng.choice([1, 1, 1, 2, 3]))
            status = AccountStatus.CHURNED if stage == LifecycleStage.CHURNED else AccountStatus.ACTIVE
            trend = {
                LifecycleStage.AT_RISK: rng.choice(["declining", "quiet", "declining"]),
                LifecycleStage.EXPANSION: "growing",
                LifecycleStage.CHURNED: "quiet",
            }.get(stage, rng.choice(TRENDS[:3] + ["growing", "flat"]))
            seats = rng.randint(*SEATS[tier])
            name = f"{rng.choice(WORDS_A)} {rng.choice(WORDS_B)} {i + 1}"
            client = Client(
                client_id=f"demo_{i + 1:05d}",
                client_name=name,
                company_name=f"{name} Ltd",
                industry=rng.choice(INDUSTRIES),
                tier=tier,
                value_tier=value_tier_for_arr(arr),
                status=status,
                lifecycle_stage=stage,
                contract_value=Decimal(0) if status == AccountStatus.CHURNED else arr,
                contract_start_date=start,
                contract_end_date=end,
                renewal_date=end,
            )
            clients.append(client)
            plans.append((tier, stage, status, arr, seats, start, end, trend))
        Client.objects.bulk_create(clients, batch_size=BATCH)
        pks = dict(Client.objects.filter(client_id__startswith="demo_").values_list("client_id", "pk"))
        accounts = [
            DemoAccount(
                pk=pks[c.client_id],
                client_id=c.client_id,
                tier=t,
                stage=s,
                status=st,
                arr=a,
                seats=se,
                start=sd,
                end=ed,
                trend=tr,
            )
            for c, (t, s, st, a, se, sd, ed, tr) in zip(clients, plans, strict=True)
        ]
        self.counts["customers.Client"] = len(accounts)
        contacts, contracts, movements, history, invoices, timeline = [], [], [], [], [], []
        for acc in self.progress(accounts, "accounts"):
            for j in range(rng.randint(2, 5)):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                email = f"{first.lower()}.{last.lower().replace(' ', '')}{j}@{acc.client_id.replace('_', '')}.example"
                role = (
                    ContactRole.DECISION_MAKER
                    if j == 0
                    else rng.choice(
                        [
                            ContactRole.CHAMPION,
                            ContactRole.ADMIN,
                            ContactRole.END_USER,
                            ContactRole.EXECUTIVE_SPONSOR,
                            ContactRole.BILLING,
                        ]
                    )
                )
                acc.contact_emails.append((email, role))
                contacts.append(
                    Contact(
                        client_id=acc.pk,
                        name=f"{first} {last}",
                        email=email,
                        role=role,
                        is_primary=j == 0,
                        primary_since=now if j == 0 else None,
                    )
                )
            term = (acc.end - acc.start).days
            contract_type = ContractType.ANNUAL if term <= 370 else ContractType.MULTI_YEAR
            late = rng.random() < 0.12
            contracts.append(
                Contract(
                    client_id=acc.pk,
                    contract_type=contract_type,
                    tier=acc.tier,
                    value=acc.arr,
                    start_date=acc.start,
                    end_date=acc.end,
                    included_users=acc.seats,
                    auto_renew=rng.random() < 0.4,
                    notice_period_days=rng.choice([30, 60, 90]),
                    payment_status=PaymentStatus.LATE if late else PaymentStatus.CURRENT,
                    status="ended" if acc.status == AccountStatus.CHURNED else "active",
                )
            )
            movements.append(
                ArrMovement(
                    client_id=acc.pk, kind=ArrMovementKind.NEW, amount=acc.arr, movement_date=acc.start
                )
            )
            if acc.stage == LifecycleStage.EXPANSION and rng.random() < 0.7:
                movements.append(
                    ArrMovement(
                        client_id=acc.pk,
                        kind=ArrMovementKind.EXPANSION,
                        amount=(acc.arr * Decimal("0.15")).quantize(Decimal("1")),
                        movement_date=self.as_of - dt.timedelta(days=rng.randint(10, 200)),
                    )
                )
            if acc.status == AccountStatus.CHURNED:
                movements.append(
                    ArrMovement(
                        client_id=acc.pk, kind=ArrMovementKind.CHURN, amount=-acc.arr, movement_date=acc.end
                    )
                )
            onboard_at = timezone.make_aware(dt.datetime.combine(acc.start, dt.time(9)))
            if acc.stage == LifecycleStage.ONBOARDING:
                history.append(
                    LifecycleStageHistory(
                        client_id=acc.pk,
                        to_stage=acc.stage,
                        actor="system:seed_demo",
                        reason="Demo account",
                        entered_at=onboard_at,
                    )
                )
            else:
                moved_at = max(
                    onboard_at + dt.timedelta(days=30), now - dt.timedelta(days=rng.randint(5, 200))
                )
                moved_at = min(moved_at, now)
                history.append(
                    LifecycleStageHistory(
                        client_id=acc.pk,
                        to_stage=LifecycleStage.ONBOARDING,
                        actor="system:seed_demo",
                        reason="Demo account",
                        entered_at=onboard_at,
                        exited_at=moved_at,
                    )
                )
                history.append(
                    LifecycleStageHistory(
                        client_id=acc.pk,
                        from_stage=LifecycleStage.ONBOARDING,
                        to_stage=acc.stage,
                        actor="system:seed_demo",
                        reason="Demo account",
                        entered_at=moved_at,
                    )
                )
            # Quarterly invoices over the last year; a late payer has one unpaid past due.
            for q in range(4):
                issued = self.as_of - dt.timedelta(days=90 * q + rng.randint(0, 20))
                if issued < acc.start:
                    break
                due = issued + dt.timedelta(days=30)
                paid_late = rng.random() < 0.1
                unpaid = late and q == 0 and due < self.as_of
                paid_on = (
                    None
                    if unpaid
                    else due + dt.timedelta(days=rng.randint(1, 20) if paid_late else -rng.randint(0, 20))
                )
                if paid_on and paid_on > self.as_of:
                    paid_on = None
                invoices.append(
                    Invoice(
                        client_id=acc.pk,
                        amount=(acc.arr / 4).quantize(Decimal("0.01")),
                        issued_on=issued,
                        due_date=due,
                        paid_on=paid_on,
                        status=InvoiceStatus.PAID if paid_on else InvoiceStatus.OPEN,
                    )
                )
            timeline.append(
                TimelineEvent(
                    client_id=acc.pk,
                    occurred_at=onboard_at,
                    event_type="account",
                    title="Client registered",
                    actor="system:seed_demo",
                    source_type="client",
                    source_id=acc.client_id,
                )
            )
        self.counts["customers.Contact"] = self.bulk(Contact, contacts)
        primary = Contact.objects.filter(client=OuterRef("pk"), is_primary=True)
        Client.objects.filter(pk__in=[a.pk for a in accounts]).update(
            primary_contact_email=Subquery(primary.values("email")[:1]),
            primary_contact_name=Subquery(primary.values("name")[:1]),
        )
        self.counts["customers.Contract"] = self.bulk(Contract, contracts)
        self.counts["customers.ArrMovement"] = self.bulk(ArrMovement, movements)
        self.counts["customers.LifecycleStageHistory"] = self.bulk(LifecycleStageHistory, history)
        self.counts["customers.Invoice"] = self.bulk(Invoice, invoices)
        self.counts["customers.TimelineEvent"] = self.bulk(TimelineEvent, timeline)
        contract_pks = dict(
            Contract.objects.filter(client_id__in=[a.pk for a in accounts]).values_list("client_id", "pk")
        )
        for acc in accounts:
            acc.contract_pk = contract_pks.get(acc.pk)
        return accounts
