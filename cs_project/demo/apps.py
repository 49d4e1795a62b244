from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Installed only so that Django finds the ``seed_demo`` management command."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "cs_project.demo"
    label = "demo"
    verbose_name = "Demo world"
