from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EnvelopesConfig(AppConfig):
    name = "qianshu.envelopes"
    verbose_name = _("签署任务")
    default_auto_field = "django.db.models.BigAutoField"
