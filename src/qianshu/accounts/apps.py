from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "qianshu.accounts"
    verbose_name = _("账户")
    default_auto_field = "django.db.models.BigAutoField"
