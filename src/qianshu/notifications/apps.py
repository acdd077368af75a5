from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "qianshu.notifications"
    label = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from qianshu.notifications import checks  # noqa: F401 - registers the system checks
