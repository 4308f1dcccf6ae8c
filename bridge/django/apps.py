from django.apps import AppConfig


class SwitchboardConfig(AppConfig):
    """Django app `switchboard`: the outbox, the hub's endpoints, the template tag and the admin."""

    name = "switchboard.bridge.django"
    label = "switchboard"
    verbose_name = "Switchboard"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_started
        from django.utils.module_loading import autodiscover_modules
        from switchboard.bridge.django import checks  # noqa: F401  (registers the system checks)

        # Procedures live in <app>/procedures.py by convention; import them so the hub can call them.
        autodiscover_modules("procedures")
        request_started.connect(_start_sender, dispatch_uid="switchboard.sender")


def _start_sender(**kwargs) -> None:
    from switchboard.bridge.django import sender

    sender.ensure_started()
