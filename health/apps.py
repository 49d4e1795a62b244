from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_beat_schedules(sender, **kwargs):
    """RULES §19: the beat schedule is defined in settings and installed idempotently after every migrate."""
    from django.db import DEFAULT_DB_ALIAS

    if kwargs.get("using", DEFAULT_DB_ALIAS) != DEFAULT_DB_ALIAS:
        return
    from .services import beat_schedules_install

    beat_schedules_install()


class HealthConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "health"
    verbose_name = "Health"

    def ready(self) -> None:
        """Publish what the client overview may read of this app; install the beat schedule after migrate."""
        from customers.summaries import register_list_columns, register_summary, register_value_tier

        from .selectors import client_list_columns, client_summary, value_tier_for_arr

        register_summary(self.label, client_summary)
        register_list_columns(self.label, client_list_columns)
        register_value_tier(value_tier_for_arr)
        post_migrate.connect(
            _install_beat_schedules, sender=self, dispatch_uid="health.install_beat_schedules"
        )
