from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "feedback"
    verbose_name = "Feedback"

    def ready(self) -> None:
        """Publish what the client overview may read of this app (customers.summaries)."""
        from customers.summaries import register_summary

        from .selectors import client_summary

        register_summary(self.label, client_summary)
