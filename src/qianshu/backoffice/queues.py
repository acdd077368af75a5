"""The review queues listed on the back-office home page; each domain adds its own here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Queue:
    key: str
    title: str | Promise
    description: str | Promise
    url_name: str
    count: Callable[[], int]


def _identity_pending() -> int:
    from qianshu.identity.models import VerificationAttempt

    return VerificationAttempt.objects.pending_review().count()


def _orgs_pending() -> int:
    from qianshu.orgs.queries import orgs_awaiting_review

    return orgs_awaiting_review().count()


QUEUES: list[Queue] = [
    Queue(
        key="identity",
        title=_("个人实名认证审核"),
        description=_("护照、港澳台通行证等证件及自愿选择人工审核的个人实名认证申请。"),
        url_name="backoffice:identity-queue",
        count=_identity_pending,
    ),
    Queue(
        key="orgs",
        title=_("组织认证审核"),
        description=_("待确认的对公打款（我给平台打款）及组织管理员提交人工审核的组织机构认证。"),
        url_name="backoffice:org-queue",
        count=_orgs_pending,
    ),
]
