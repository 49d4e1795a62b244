"""Health REST routes, mounted at /api/v1/."""

from cs_project.core.api import slash_optional

from .views import EventBatchView, EventTrackView

app_name = "health_api"

urlpatterns = [
    *slash_optional("events/batch", EventBatchView, "events-batch"),
    *slash_optional("events/track", EventTrackView, "events-track"),
]
