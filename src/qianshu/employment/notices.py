"""What the parties of an agreement are told, by SMS and e-mail (queued in the caller's
transaction, sent after it commits). The envelope under an agreement is managed, so the
envelopes app sends nothing itself."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from qianshu.accounts.models import User
from qianshu.employment.models import Agreement, Staff, Termination
from qianshu.notifications.actions import InvalidRecipient, do_queue_email, do_queue_sms

LANGUAGE = "zh-hans"


def _link(agreement: Agreement) -> str:
    path = reverse("employment:agreement", args=[agreement.uuid])
    return settings.PUBLIC_URL.rstrip("/") + path


def _send(kind: str, context: dict[str, object], *, phone: str, email: str, language: str) -> None:
    try:
        if phone:
            do_queue_sms(phone, kind, context, language=language)
        if email:
            do_queue_email(email, kind, context, language=language)
    except InvalidRecipient:
        pass  # a roster phone that is not a mobile number: the e-mail (if any) still goes


def _to_user(user: User | None, kind: str, context: dict[str, object]) -> None:
    if user is not None:
        _send(
            kind,
            context,
            phone=user.phone,
            email=user.email,
            language=user.language or LANGUAGE,
        )


def _to_student(agreement: Agreement, kind: str, context: dict[str, object]) -> None:
    student = agreement.student
    if student.user is not None:
        _to_user(student.user, kind, context)
    else:
        _send(kind, context, phone=student.phone, email="", language=LANGUAGE)


def _context(agreement: Agreement, **extra: object) -> dict[str, object]:
    return {
        "student": agreement.student.name,
        "employer": agreement.employer_name,
        "number": agreement.number,
        "link": _link(agreement),
        **extra,
    }


def invitation_sent(agreement: Agreement) -> None:
    deadline = timezone.localtime(agreement.deadline) if agreement.deadline else None
    _to_student(
        agreement,
        "employment_invitation",
        {
            "student": agreement.student.name,
            "employer": agreement.employer_name,
            "position": agreement.terms.get("position", ""),
            "deadline": deadline.strftime("%Y-%m-%d %H:%M") if deadline else "",
            "link": _link(agreement),
        },
    )


def invitation_answered(agreement: Agreement, *, accepted: bool) -> None:
    answer = (
        pgettext_lazy("invitation answer", "同意")
        if accepted
        else pgettext_lazy("invitation answer", "拒绝")
    )
    context = _context(agreement, answer=answer)
    context.pop("employer")
    _to_user(agreement.created_by, "employment_answered", context)


def agreement_decided(agreement: Agreement) -> None:
    passed = agreement.status == Agreement.Status.PASSED
    result = _("已通过学校鉴证，正式生效") if passed else _("未通过学校鉴证")
    reason = "" if passed else _("原因：%(r)s") % {"r": agreement.reason}
    context = _context(agreement, result=result, reason=reason)
    _to_student(agreement, "employment_decided", context)
    _to_user(agreement.created_by, "employment_decided", context)


def termination_applied(termination: Termination) -> None:
    agreement = termination.agreement
    who = (
        agreement.student.name
        if termination.side == Termination.Side.STUDENT
        else agreement.employer_name
    )
    context: dict[str, object] = {
        "who": who,
        "number": agreement.number,
        "reason": termination.reason,
        "link": _link(agreement),
    }
    if termination.side == Termination.Side.STUDENT:
        _to_user(agreement.created_by, "employment_termination", context)
    else:
        _to_student(agreement, "employment_termination", context)


def termination_decided(termination: Termination) -> None:
    agreement = termination.agreement
    results: dict[str, object] = {
        Termination.Status.REFUSED: _("未获对方同意"),
        Termination.Status.AGREED: _("已获对方同意，等待学校解约鉴证"),
        Termination.Status.PASSED: _("已通过学校鉴证，协议已解除"),
        Termination.Status.FAILED: _("未通过学校鉴证，协议仍然有效"),
    }
    reason = termination.decision_reason
    context = {
        "number": agreement.number,
        "result": results.get(termination.status, termination.get_status_display()),
        "reason": _("原因：%(r)s") % {"r": reason} if reason else "",
        "link": _link(agreement),
    }
    _to_student(agreement, "employment_termination_decided", context)
    _to_user(agreement.created_by, "employment_termination_decided", context)
    if termination.status == Termination.Status.AGREED:
        for staff in Staff.objects.filter(school=agreement.student.school).select_related("user"):
            if staff.role == Staff.Role.SCHOOL_ADMIN or staff.college_id == (
                agreement.student.college_id
            ):
                _to_user(staff.user, "employment_termination_decided", context)
