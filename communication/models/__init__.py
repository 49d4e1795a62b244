"""E-mail, workflows, community, advocacy, EBRs, newsletters (TOOLS §5).

One module per topic; every model (and the id default functions migrations reference) is importable from here."""

from .community import (  # noqa: F401
    Advocate,
    AdvocateContribution,
    Community,
    CommunityMember,
    CommunityPost,
    new_advocate_id,
    new_community_id,
    new_member_id,
    new_post_id,
)
from .email import (  # noqa: F401
    EmailCampaign,
    EmailMessage,
    EmailSuppression,
    Newsletter,
    NewsletterSubscription,
    new_campaign_id,
    new_message_id,
    new_newsletter_id,
)
from .reviews import (  # noqa: F401
    ExecutiveReview,
    ExecutiveReviewActionItem,
    new_ebr_id,
)
from .workflows import (  # noqa: F401
    Workflow,
    WorkflowEnrollment,
    WorkflowRun,
    new_workflow_id,
)
