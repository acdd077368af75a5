from typing import Any

from django.apps import AppConfig


class EmploymentConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "qianshu.employment"
    label = "employment"
    verbose_name = "Employment agreements"

    def ready(self) -> None:
        from qianshu.envelopes.signals import timer_tick

        timer_tick.connect(_expire_invitations, dispatch_uid="qianshu.employment.expiry")


def _expire_invitations(sender: object, *, meta: Any, **kwargs: object) -> dict[str, int]:
    from qianshu.employment.actions.agreements import do_expire_invitations

    return {"invitations_expired": do_expire_invitations(meta=meta)}
