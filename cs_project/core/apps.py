from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Platform plumbing: tool registry, MCP and REST doorways, error contract, token auth."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "cs_project.core"
    label = "core"
    verbose_name = "Platform"

    def ready(self):
        from cs_project.core import lookups

        lookups.register()
