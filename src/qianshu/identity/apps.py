from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "qianshu.identity"
    label = "identity"
    verbose_name = _("实名认证")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from qianshu.identity import checks  # noqa: F401 - registers the system checks
