from django.apps import AppConfig


class ExpansionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "expansion"
    verbose_name = "Expansion"

    def ready(self) -> None:
        """Publish what the client overview may read of this app (customers.summaries) and close renewals when
        customers announces a churn or a moved contract end (customers.signals)."""
        from customers.signals import client_churned, contract_end_moved
        from customers.summaries import register_summary

        from .selectors import client_summary
        from .services import on_client_churned, on_contract_end_moved

        register_summary(self.label, client_summary)
        client_churned.connect(on_client_churned, dispatch_uid="expansion.renewals_close_lost")
        contract_end_moved.connect(on_contract_end_moved, dispatch_uid="expansion.renewals_won_by_end_date")
