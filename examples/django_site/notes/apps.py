from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "notes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from notes import receivers  # noqa: F401  (connects the signal receivers)
