from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EnvelopesConfig(AppConfig):
    name = "qianshu.envelopes"
    verbose_name = _("签署任务")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from qianshu.envelopes.binding import bind_verified_org
        from qianshu.envelopes.signals import all_signed
        from qianshu.envelopes.tasks import schedule_completion
        from qianshu.orgs.signals import org_verified

        # Seal recipients that named an organisation by credit code and name are bound when it
        # verifies, in the same transaction.
        org_verified.connect(bind_verified_org, dispatch_uid="qianshu.envelopes.bind_verified_org")
        # Completion is scheduled when the last acting recipient is done (routing.advance).
        all_signed.connect(schedule_completion, dispatch_uid="qianshu.envelopes.completion")
