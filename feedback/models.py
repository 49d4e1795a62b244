"""Feedback intelligence (RULES §13): feedback items with sentiment and themes, NPS/CSAT/CES responses and
invitations, product insights and voice-of-customer reports."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from cs_project.core.ids import format_seq_id, new_prefixed_id
from customers.choices import Priority, Sentiment

from .choices import (
    SURVEY_SCORE_RANGES,
    FeedbackStatus,
    FeedbackType,
    FollowUpStatus,
    InsightStatus,
    InsightType,
    InvitationSource,
    NpsCategory,
    RoutingTeam,
    SurveySource,
    SurveyType,
    VocAudience,
    VocLoopStatus,
    VocReportType,
)

#: TOOLS §0.3 string limits.
BODY_MAX = 20_000
NOTE_MAX = 5_000
#: Reserved label for an item that matched no theme (RULES §13.4); never a Theme row.
UNCATEGORIZED = "uncategorized"


def new_insight_id() -> str:
    return new_prefixed_id("ins")


def new_voc_report_id() -> str:
    return new_prefixed_id("voc")


def _max_length(field: str, limit: int, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=LessThanOrEqual(Length(field), limit), name=name)


def _valid(
    field: str, choices: type[models.TextChoices], name: str, blank: bool = False
) -> models.CheckConstraint:
    condition = Q(**{f"{field}__in": choices.values})
    if blank:
        condition |= Q(**{field: ""})
    return models.CheckConstraint(condition=condition, name=name)


def _contact_of_client(instance: models.Model) -> None:
    contact_id = getattr(instance, "contact_id", None)
    if contact_id and instance.client_id and instance.contact.client_id != instance.client_id:
        raise ValidationError({"contact": "The contact belongs to another client."})


class Theme(models.Model):
    """A feedback theme [DB] matched by keyword (RULES §13.4), seeded by a data migration and editable in the
    admin. ``keywords_setting`` names a ``CS_RULES`` key whose values are added at run time (competitor
    names). An item matching no theme is reported as ``uncategorized``, a label reserved for that."""

    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True, default="")
    keywords = models.JSONField(
        default=list, blank=True, help_text="Words or phrases, matched as whole words, case-insensitive."
    )
    keywords_setting = models.CharField(
        max_length=50,
        blank=True,
        default="",
        help_text="CS_RULES key with more keywords, e.g. competitor_names.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(condition=~Q(key=UNCATEGORIZED), name="fb_theme_key_not_reserved"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.keywords, list) or not all(
            isinstance(k, str) and k.strip() for k in self.keywords
        ):
            raise ValidationError({"keywords": "Give a list of non-empty words or phrases."})


class Feedback(models.Model):
    """One feedback item (``FB-<n>``) from any channel: stored with sentiment, themes and routing, then
    followed through the handling status and the voice-of-customer loop (RULES §13.3–13.5)."""

    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="feedback_items")
    contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback_items"
    )
    submitter_email = models.EmailField(max_length=254)
    submitter_name = models.CharField(max_length=200)
    feedback_type = models.CharField(max_length=20, choices=FeedbackType.choices)
    source = models.CharField(max_length=100, help_text="e.g. email, call, portal, survey, zendesk.")
    title = models.CharField(max_length=300)
    content = models.TextField(max_length=BODY_MAX, validators=[MaxLengthValidator(BODY_MAX)])
    category = models.CharField(max_length=100)
    subcategory = models.CharField(max_length=100, blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(max_length=20, choices=FeedbackStatus.choices, default=FeedbackStatus.NEW)
    voc_status = models.CharField(
        "VoC loop status", max_length=20, choices=VocLoopStatus.choices, default=VocLoopStatus.RECEIVED
    )
    assigned_team = models.CharField(max_length=20, choices=RoutingTeam.choices, blank=True, default="")
    sentiment = models.CharField(max_length=20, choices=Sentiment.choices, blank=True, default="")
    sentiment_score = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(-1), MaxValueValidator(1)],
        help_text="VADER, −1…1.",
    )
    themes = models.ManyToManyField(Theme, blank=True, related_name="feedback_items")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    actioned_at = models.DateTimeField(null=True, blank=True)
    closed_loop_at = models.DateTimeField(null=True, blank=True)
    closed_loop_message = models.TextField(blank=True, default="", validators=[MaxLengthValidator(NOTE_MAX)])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "feedback"
        ordering = ["-created_at", "-id"]
        permissions = [
            ("mcp_read", "Can call read-only feedback tools"),
            ("mcp_write", "Can call mutating feedback tools"),
        ]
        indexes = [
            models.Index(fields=["client", "created_at"], name="fb_feedback_client_time_idx"),
            models.Index(fields=["created_at", "feedback_type"], name="fb_feedback_time_type_idx"),
            models.Index(fields=["status", "priority", "created_at"], name="fb_feedback_status_idx"),
            models.Index(fields=["voc_status", "actioned_at"], name="fb_feedback_voc_idx"),
            models.Index(
                fields=["client", "submitter_email", "created_at"], name="fb_feedback_dup_check_idx"
            ),
        ]
        constraints = [
            _valid("feedback_type", FeedbackType, "fb_feedback_type_valid"),
            _valid("status", FeedbackStatus, "fb_feedback_status_valid"),
            _valid("voc_status", VocLoopStatus, "fb_feedback_voc_status_valid"),
            _valid("priority", Priority, "fb_feedback_priority_valid"),
            _valid("assigned_team", RoutingTeam, "fb_feedback_team_valid", blank=True),
            _valid("sentiment", Sentiment, "fb_feedback_sentiment_valid", blank=True),
            models.CheckConstraint(
                condition=Q(sentiment_score__isnull=True)
                | Q(sentiment_score__gte=-1, sentiment_score__lte=1),
                name="fb_feedback_sentiment_score_range",
            ),
            models.CheckConstraint(
                condition=Q(sentiment="", sentiment_score__isnull=True)
                | (~Q(sentiment="") & Q(sentiment_score__isnull=False)),
                name="fb_feedback_sentiment_label_with_score",
            ),
            _max_length("content", BODY_MAX, "fb_feedback_content_max_length"),
            models.CheckConstraint(
                condition=Q(voc_status=VocLoopStatus.RECEIVED) | Q(acknowledged_at__isnull=False),
                name="fb_feedback_acknowledged_stamped",
            ),
            models.CheckConstraint(
                condition=~Q(voc_status__in=[VocLoopStatus.ACTIONED, VocLoopStatus.CLOSED_LOOP])
                | Q(actioned_at__isnull=False),
                name="fb_feedback_actioned_stamped",
            ),
            models.CheckConstraint(
                condition=Q(voc_status=VocLoopStatus.CLOSED_LOOP, closed_loop_at__isnull=False)
                | (~Q(voc_status=VocLoopStatus.CLOSED_LOOP) & Q(closed_loop_at__isnull=True)),
                name="fb_feedback_closed_loop_iff_stamped",
            ),
            models.CheckConstraint(
                condition=Q(closed_loop_at__isnull=True)
                | Q(actioned_at__isnull=True)
                | Q(closed_loop_at__gte=F("actioned_at")),
                name="fb_feedback_closed_after_actioned",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.feedback_id} {self.title[:60]}"

    @property
    def feedback_id(self) -> str | None:
        return format_seq_id("FB", self.pk)

    def clean(self) -> None:
        _contact_of_client(self)


class SurveyResponse(models.Model):
    """One NPS, CSAT or CES answer (``NPS-<n>``, ``CSAT-<n>``, ``CES-<n>``), with its follow-up state.

    Scores: NPS 0–10, CSAT 1–5, CES 1–7 (RULES §13.1). Support ticket ratings are stored here as CSAT with
    ``source = ticket``. Metrics count only the latest response per respondent e-mail and type in a window.
    """

    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="survey_responses")
    contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="survey_responses"
    )
    respondent_email = models.EmailField(max_length=254, blank=True, default="")
    survey_type = models.CharField(max_length=10, choices=SurveyType.choices)
    score = models.SmallIntegerField(validators=[MinValueValidator(0), MaxValueValidator(10)])
    comment = models.TextField(blank=True, default="", validators=[MaxLengthValidator(BODY_MAX)])
    responded_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=20, choices=SurveySource.choices, default=SurveySource.SURVEY)
    ticket = models.ForeignKey(
        "support.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="survey_responses"
    )
    feedback = models.ForeignKey(
        Feedback,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="survey_responses",
        help_text="The feedback item this score came with (collect_feedback).",
    )
    follow_up_status = models.CharField(
        max_length=20, choices=FollowUpStatus.choices, default=FollowUpStatus.NOT_REQUIRED
    )
    contacted_at = models.DateTimeField(null=True, blank=True)
    follow_up_note = models.TextField(blank=True, default="", validators=[MaxLengthValidator(NOTE_MAX)])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-responded_at", "-id"]
        indexes = [
            models.Index(
                fields=["client", "survey_type", "responded_at"], name="fb_survey_client_type_time_idx"
            ),
            models.Index(fields=["survey_type", "responded_at"], name="fb_survey_type_time_idx"),
            models.Index(
                fields=["respondent_email", "survey_type", "responded_at"], name="fb_survey_respondent_idx"
            ),
            models.Index(
                fields=["responded_at"],
                condition=Q(follow_up_status=FollowUpStatus.REQUIRED),
                name="fb_survey_follow_up_open_idx",
            ),
        ]
        constraints = [
            _valid("survey_type", SurveyType, "fb_survey_type_valid"),
            models.CheckConstraint(
                condition=Q(survey_type=SurveyType.NPS, score__gte=0, score__lte=10)
                | Q(survey_type=SurveyType.CSAT, score__gte=1, score__lte=5)
                | Q(survey_type=SurveyType.CES, score__gte=1, score__lte=7),
                name="fb_survey_score_in_type_range",
                violation_error_message="Score out of range (NPS 0–10, CSAT 1–5, CES 1–7).",
            ),
            _valid("source", SurveySource, "fb_survey_source_valid"),
            _valid("follow_up_status", FollowUpStatus, "fb_survey_follow_up_valid"),
            models.CheckConstraint(
                condition=~Q(follow_up_status=FollowUpStatus.CONTACTED) | Q(contacted_at__isnull=False),
                name="fb_survey_contacted_stamped",
            ),
            models.CheckConstraint(
                condition=Q(ticket__isnull=True) | Q(survey_type=SurveyType.CSAT),
                name="fb_survey_ticket_rating_is_csat",
            ),
            _max_length("comment", BODY_MAX, "fb_survey_comment_max_length"),
        ]

    def __str__(self) -> str:
        return f"{self.response_id} score {self.score}"

    @property
    def response_id(self) -> str | None:
        return format_seq_id(self.survey_type.upper(), self.pk) if self.survey_type else None

    @property
    def nps_category(self) -> str | None:
        """detractor / passive / promoter for NPS responses (RULES §13.1), else None."""
        if self.survey_type != SurveyType.NPS or self.score is None:
            return None
        if self.score <= 6:
            return NpsCategory.DETRACTOR
        return NpsCategory.PASSIVE if self.score <= 8 else NpsCategory.PROMOTER

    def clean(self) -> None:
        _contact_of_client(self)
        bounds = SURVEY_SCORE_RANGES.get(self.survey_type)
        if bounds and self.score is not None and not bounds[0] <= self.score <= bounds[1]:
            raise ValidationError(
                {"score": f"{self.survey_type.upper()} scores are {bounds[0]}–{bounds[1]}."}
            )


class SurveyTemplate(models.Model):
    """The questions sent for one survey type; at most one default template per type (used by the CES job
    and by campaigns that do not name a template)."""

    name = models.CharField(max_length=200, unique=True)
    survey_type = models.CharField(max_length=10, choices=SurveyType.choices)
    description = models.CharField(max_length=500, blank=True, default="")
    questions = models.JSONField(
        default=list,
        blank=True,
        help_text='List of {"key", "text", "kind"}; the first question is the score.',
    )
    is_default = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["survey_type", "name"]
        constraints = [
            _valid("survey_type", SurveyType, "fb_template_type_valid"),
            models.UniqueConstraint(
                fields=["survey_type"], condition=Q(is_default=True), name="fb_template_one_default_per_type"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_survey_type_display()})"

    def clean(self) -> None:
        if not isinstance(self.questions, list):
            raise ValidationError({"questions": "Give a list of questions."})


class SurveyInvitation(models.Model):
    """A survey sent to one address: the denominator of the response rate (RULES §13.1). Recorded by the
    CES job (one per closed ticket), feedback-request campaigns and the REST API."""

    client = models.ForeignKey(
        "customers.Client", on_delete=models.CASCADE, related_name="survey_invitations"
    )
    contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="survey_invitations",
    )
    email = models.EmailField(max_length=254)
    survey_type = models.CharField(max_length=10, choices=SurveyType.choices)
    template = models.ForeignKey(
        SurveyTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations"
    )
    source = models.CharField(max_length=20, choices=InvitationSource.choices, default=InvitationSource.API)
    source_ref = models.CharField(max_length=100, blank=True, default="", help_text="e.g. the campaign id.")
    ticket = models.ForeignKey(
        "support.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="survey_invitations"
    )
    sent_at = models.DateTimeField(default=timezone.now)
    responded = models.BooleanField(default=False)
    response = models.OneToOneField(
        SurveyResponse, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitation"
    )

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [
            models.Index(fields=["client", "survey_type", "sent_at"], name="fb_invite_client_type_time_idx"),
            models.Index(fields=["survey_type", "sent_at"], name="fb_invite_type_time_idx"),
            models.Index(fields=["email", "survey_type", "sent_at"], name="fb_invite_email_idx"),
        ]
        constraints = [
            _valid("survey_type", SurveyType, "fb_invite_type_valid"),
            _valid("source", InvitationSource, "fb_invite_source_valid"),
            models.CheckConstraint(
                condition=Q(response__isnull=True) | Q(responded=True),
                name="fb_invite_response_means_responded",
            ),
            models.UniqueConstraint(
                fields=["ticket", "survey_type"],
                condition=Q(ticket__isnull=False),
                name="fb_invite_one_per_ticket_and_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey_type.upper()} invitation to {self.email} ({self.sent_at:%Y-%m-%d})"

    def clean(self) -> None:
        _contact_of_client(self)


class ProductInsight(models.Model):
    """A product insight (``ins_…``) backed by feedback and shared with the product team (TOOLS §8.3); its
    status follows the roadmap (TOOLS §8.6). Affected ARR, tiers and sentiment are computed on read."""

    insight_id = models.CharField(max_length=20, unique=True, default=new_insight_id, editable=False)
    insight_type = models.CharField(max_length=30, choices=InsightType.choices)
    title = models.CharField(max_length=300)
    description = models.TextField(max_length=BODY_MAX, validators=[MaxLengthValidator(BODY_MAX)])
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(max_length=20, choices=InsightStatus.choices, default=InsightStatus.SUBMITTED)
    feedback = models.ManyToManyField(Feedback, blank=True, related_name="insights")
    affected_clients = models.ManyToManyField("customers.Client", blank=True, related_name="product_insights")
    customer_impact = models.TextField(blank=True, default="", validators=[MaxLengthValidator(NOTE_MAX)])
    business_impact = models.TextField(blank=True, default="", validators=[MaxLengthValidator(NOTE_MAX)])
    recommended_action = models.TextField(blank=True, default="", validators=[MaxLengthValidator(NOTE_MAX)])
    target_recipients = models.JSONField(default=list, blank=True)
    attachments = models.JSONField(default=list, blank=True, help_text="Up to 10 https URLs.")
    due_date = models.DateField(null=True, blank=True)
    roadmap_note = models.TextField(blank=True, default="", validators=[MaxLengthValidator(NOTE_MAX)])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "priority"], name="fb_insight_status_prio_idx"),
            models.Index(fields=["created_at"], name="fb_insight_created_idx"),
        ]
        constraints = [
            _valid("insight_type", InsightType, "fb_insight_type_valid"),
            _valid("status", InsightStatus, "fb_insight_status_valid"),
            _valid("priority", Priority, "fb_insight_priority_valid"),
            _max_length("description", BODY_MAX, "fb_insight_description_max_length"),
        ]

    def __str__(self) -> str:
        return f"{self.insight_id} {self.title[:60]}"


class VocReport(models.Model):
    """A stored voice-of-customer report (``voc_…``, TOOLS §8.6 ``create_voc_report``): the computed sections
    for one period, audience and optional client scope, kept as generated."""

    report_id = models.CharField(max_length=20, unique=True, default=new_voc_report_id, editable=False)
    report_type = models.CharField(
        max_length=20, choices=VocReportType.choices, default=VocReportType.MONTHLY
    )
    target_audience = models.CharField(max_length=20, choices=VocAudience.choices, default=VocAudience.ALL)
    client = models.ForeignKey(
        "customers.Client",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="voc_reports",
        help_text="Empty for a portfolio report.",
    )
    period_start = models.DateField()
    period_end = models.DateField()
    generated_at = models.DateTimeField(default=timezone.now)
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "VoC report"
        ordering = ["-generated_at", "-id"]
        indexes = [
            models.Index(fields=["client", "generated_at"], name="fb_voc_client_time_idx"),
            models.Index(fields=["period_end"], name="fb_voc_period_end_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")), name="fb_voc_period_end_after_start"
            ),
            _valid("report_type", VocReportType, "fb_voc_report_type_valid"),
            _valid("target_audience", VocAudience, "fb_voc_audience_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.report_id} {self.period_start}–{self.period_end}"
