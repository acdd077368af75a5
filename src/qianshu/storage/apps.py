from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "qianshu.storage"
    label = "storage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from qianshu.storage import checks  # noqa: F401 - registers the system checks
