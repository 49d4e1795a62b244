from django.apps import AppConfig


class SupportConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "support"
    verbose_name = "Support"

    def ready(self) -> None:
        """Publish what the client overview may read of this app (customers.summaries)."""
        from customers.summaries import register_list_columns, register_summary

        from .selectors import client_list_columns, client_summary

        register_summary(self.label, client_summary)
        register_list_columns(self.label, client_list_columns)
