from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "qianshu.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from qianshu.core import checks  # noqa: F401 - registers the system checks
        from qianshu.signing import install_speedups

        install_speedups()
