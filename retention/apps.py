from django.apps import AppConfig


class RetentionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "retention"
    verbose_name = "Retention"

    def ready(self) -> None:
        """Publish what the client overview may read of this app (customers.summaries) and close campaigns when
        customers announces a churn (customers.signals)."""
        from customers.signals import client_churned
        from customers.summaries import register_summary

        from .selectors import client_summary
        from .services import on_client_churned

        register_summary(self.label, client_summary)
        client_churned.connect(on_client_churned, dispatch_uid="retention.retention_campaigns_close_churned")
