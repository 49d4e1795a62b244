"""Health REST routes, mounted at /api/v1/."""

from django.urls import re_path

from .views import EventBatchView, EventTrackView

app_name = "health_api"

urlpatterns = [
    re_path(r"^events/batch/?$", EventBatchView.as_view(), name="events-batch"),
    re_path(r"^events/track/?$", EventTrackView.as_view(), name="events-track"),
]
