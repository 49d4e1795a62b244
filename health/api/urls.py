"""Health REST routes, mounted at /api/v1/."""

from django.urls import path

from .views import EventBatchView, EventTrackView

app_name = "health_api"

urlpatterns = [
    path("events/batch", EventBatchView.as_view(), name="events-batch"),
    path("events/track", EventTrackView.as_view(), name="events-track"),
]
