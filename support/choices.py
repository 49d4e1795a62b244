"""Enumerations owned by the support app (RULES §2, §10). Shared ones live in ``customers/choices.py``."""

from django.db import models


class TicketPriority(models.TextChoices):
    """Ticket priority, most urgent first (RULES §2)."""

    P0 = "P0", "P0"
    P1 = "P1", "P1"
    P2 = "P2", "P2"
    P3 = "P3", "P3"
    P4 = "P4", "P4"

    @classmethod
    def rank(cls, value: str) -> int:
        """0 for P0 … 4 for P4: sort key, most urgent first."""
        return list(cls.values).index(value)


class TicketStatus(models.TextChoices):
    """Ticket status (RULES §2, state machine §10.4)."""

    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer", "Waiting on customer"
    WAITING_ON_ENGINEERING = "waiting_on_engineering", "Waiting on engineering"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    REOPENED = "reopened", "Reopened"


#: Statuses in which a ticket still needs work (the SLA resolution clock runs).
OPEN_TICKET_STATUSES = (
    TicketStatus.OPEN,
    TicketStatus.IN_PROGRESS,
    TicketStatus.WAITING_ON_CUSTOMER,
    TicketStatus.WAITING_ON_ENGINEERING,
    TicketStatus.REOPENED,
)

#: Statuses ``update`` may set (RULES §10.4).
UPDATABLE_TICKET_STATUSES = (
    TicketStatus.OPEN,
    TicketStatus.IN_PROGRESS,
    TicketStatus.WAITING_ON_CUSTOMER,
    TicketStatus.WAITING_ON_ENGINEERING,
)


class TicketCategory(models.TextChoices):
    """Ticket category (RULES §2)."""

    TECHNICAL_ISSUE = "technical_issue", "Technical issue"
    BUG_REPORT = "bug_report", "Bug report"
    FEATURE_REQUEST = "feature_request", "Feature request"
    HOW_TO_QUESTION = "how_to_question", "How-to question"
    ACCOUNT_BILLING = "account_billing", "Account / billing"
    INTEGRATION_SUPPORT = "integration_support", "Integration support"
    TRAINING_REQUEST = "training_request", "Training request"
    DATA_ISSUE = "data_issue", "Data issue"
    PERFORMANCE = "performance", "Performance"
    OTHER = "other", "Other"


class TicketChannel(models.TextChoices):
    """Where a ticket came from."""

    EMAIL = "email", "E-mail"
    PORTAL = "portal", "Customer portal"
    PHONE = "phone", "Phone"
    CHAT = "chat", "Chat"
    API = "api", "API / MCP"
    ZENDESK = "zendesk", "Zendesk import"
    INTERNAL = "internal", "Internal"


class SupportTeam(models.TextChoices):
    """Support teams of the routing table (RULES §10.3). The value is the team name used by the tools."""

    ESCALATION = "Escalation Team", "Escalation Team"
    TECHNICAL = "Technical Support", "Technical Support"
    ENGINEERING = "Engineering Support", "Engineering Support"
    PRODUCT = "Product Support", "Product Support"
    CUSTOMER_SUCCESS = "Customer Success", "Customer Success"
    BILLING = "Billing Support", "Billing Support"
    INTEGRATION = "Integration Team", "Integration Team"
    TRAINING = "Training Team", "Training Team"
    DATA = "Data Support", "Data Support"


class SlaStatus(models.TextChoices):
    """Status of an SLA clock (RULES §10.2)."""

    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    BREACHED = "breached", "Breached"
    MET = "met", "Met"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class CommentAuthorKind(models.TextChoices):
    """Who wrote a ticket comment."""

    AGENT = "agent", "Agent"
    CUSTOMER = "customer", "Customer"
    SYSTEM = "system", "System"


class KbArticleStatus(models.TextChoices):
    """Knowledge-base article status (RULES §2)."""

    DRAFT = "draft", "Draft"
    REVIEW = "review", "Review"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class PortalScope(models.TextChoices):
    """A portal configuration is either the global default or one client's override."""

    GLOBAL = "global", "Global default"
    CLIENT = "client", "Client"


class PortalFeature(models.TextChoices):
    """Self-service portal features (TOOLS §6.5)."""

    TICKETS = "tickets", "Tickets"
    KB = "kb", "Knowledge base"
    DOWNLOADS = "downloads", "Downloads"
    API_ACCESS = "api_access", "API access"
    CHAT = "chat", "Chat"


#: Features on for a client without PortalConfig (TOOLS §6.5).
DEFAULT_PORTAL_FEATURES = {
    PortalFeature.TICKETS.value: True,
    PortalFeature.KB.value: True,
    PortalFeature.DOWNLOADS.value: False,
    PortalFeature.API_ACCESS.value: False,
    PortalFeature.CHAT.value: False,
}


class PortalResourceType(models.TextChoices):
    """Kinds of portal resources (TOOLS §6.5)."""

    DOCUMENT = "document", "Document"
    DOWNLOAD = "download", "Download"
    VIDEO = "video", "Video"
    LINK = "link", "Link"
    KB_ARTICLE = "kb_article", "KB article"


class PortalActivityType(models.TextChoices):
    """What a portal user did (feeds the engagement health component and portal usage stats)."""

    LOGIN = "login", "Login"
    VIEW = "view", "Resource view"
    KB_VIEW = "kb_view", "KB article view"
    SEARCH = "search", "Search"
    DOWNLOAD = "download", "Download"
    TICKET_CREATED = "ticket_created", "Ticket created"
    TICKET_COMMENT = "ticket_comment", "Ticket comment"
