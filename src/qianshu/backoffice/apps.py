from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    """The platform operators' back office (运营后台): review queues. No models of its own."""

    name = "qianshu.backoffice"
    label = "backoffice"
    verbose_name = _("运营后台")
