from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgsConfig(AppConfig):
    name = "qianshu.orgs"
    verbose_name = _("组织机构")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from qianshu.orgs import checks  # noqa: F401 - registers the system checks
