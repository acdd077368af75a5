"""线下签约: the student enters a paper agreement, the school reviews it twice.

录入协议书 (暂存 and continue later) → 保存并生成协议书 (协议书审核) → the school's review:
pass → 待反馈 (the student prints it, has the employer sign and stamp it, uploads the scan or
photos: 反馈协议书) → 等待签约鉴证 → pass (就业信息 recorded) or fail (upload again); a failed
协议书审核 lets the student edit and submit again, or sign online instead.

A student already bound by an agreement (online or on paper) or with an employment record
cannot start one; from 协议书审核 on a paper agreement binds the student like an accepted
online one (the same database constraint).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.employment.actions.agreements import (
    TERM_KEYS,
    event,
    lock_agreement,
    new_number,
    record_employment,
    require_school_staff,
)
from qianshu.employment.errors import EmploymentError, WrongState
from qianshu.employment.models import BINDING_STATES, Agreement, EmploymentRecord, RosterEntry
from qianshu.storage.models import Blob

Status = Agreement.Status
EMPLOYER_KEYS = ("name", "credit_code", "nature", "industry", "location", "address", "contact")
MAX_FEEDBACK_FILES = 10


def _section(values: Mapping[str, object], keys: Sequence[str], limit: int = 200) -> dict[str, str]:
    return {k: " ".join(str(values.get(k) or "").split())[:limit] for k in keys if values.get(k)}


def _free(student: RosterEntry, exclude: Agreement | None = None) -> None:
    bound = Agreement.objects.filter(student=student, status__in=BINDING_STATES)
    if exclude is not None:
        bound = bound.exclude(pk=exclude.pk)
    if bound.exists() or EmploymentRecord.objects.filter(student=student, ended_at=None).exists():
        raise EmploymentError(_("您已有签约或就业信息，不能再录入线下协议书。"))


def do_save_paper_draft(
    student: RosterEntry,
    *,
    terms: Mapping[str, object],
    employer: Mapping[str, object],
    archive: Mapping[str, object],
    hukou: Mapping[str, object],
    agreement: Agreement | None = None,
    actor: User,
) -> Agreement:
    """暂存: save (or update) the student's paper agreement being entered."""
    if student.user_id != actor.pk:
        raise EmploymentError(_("只有学生本人可以录入协议书。"), status=403)
    with transaction.atomic():
        if agreement is None:
            _free(student)
            agreement = Agreement(
                number=new_number(),
                mode=Agreement.Mode.OFFLINE,
                status=Status.PAPER_DRAFT,
                student=student,
                created_by=actor,
            )
        else:
            agreement = lock_agreement(agreement)
            if agreement.student_id != student.pk or agreement.mode != Agreement.Mode.OFFLINE:
                raise EmploymentError(_("该协议书不属于您。"), status=403)
            if agreement.status not in (Status.PAPER_DRAFT, Status.PAPER_REVIEW_FAILED):
                raise WrongState(_("协议书已提交审核，不能再修改。"))
        agreement.terms = _section(terms, TERM_KEYS, 1000)
        agreement.employer_info = _section(employer, EMPLOYER_KEYS)
        agreement.archive = _section(archive, ("unit", "address", "postcode", "contact", "phone"))
        agreement.hukou = _section(hukou, ("address", "unit"))
        agreement.status = Status.PAPER_DRAFT
        agreement.save()
        event(agreement, "paper_saved", _("学生暂存协议书"), actor)
    return agreement


def missing_items(agreement: Agreement) -> list[str]:
    """What must be filled before 保存并生成协议书."""
    needed = [
        (agreement.terms, "position", _("拟聘职位")),
        (agreement.employer_info, "name", _("单位名称")),
        (agreement.employer_info, "credit_code", _("统一社会信用代码")),
        (agreement.archive, "unit", _("档案接收单位")),
    ]
    return [str(label) for section, key, label in needed if not section.get(key)]


def do_submit_paper(agreement: Agreement, *, actor: User) -> Agreement:
    """保存并生成协议书 (after two confirmations in the page): to the school's 协议书审核."""
    if agreement.student.user_id != actor.pk:
        raise EmploymentError(_("只有学生本人可以提交协议书。"), status=403)
    try:
        with transaction.atomic():
            locked = lock_agreement(agreement)
            if locked.status not in (Status.PAPER_DRAFT, Status.PAPER_REVIEW_FAILED):
                raise WrongState(_("协议书已提交审核。"))
            missing = missing_items(locked)
            if missing:
                raise EmploymentError(_("请填写：%(items)s。") % {"items": "、".join(missing)})
            _free(locked.student, exclude=locked)
            locked.status = Status.PAPER_REVIEW
            locked.save(update_fields=["status"])
            event(locked, "paper_submitted", _("学生生成协议书，等待协议书审核"), actor)
    except IntegrityError as exc:
        raise EmploymentError(_("您已有签约或就业信息，不能再录入线下协议书。")) from exc
    return locked


def do_review_paper(
    agreement: Agreement, *, passed: bool, reason: str = "", actor: User
) -> Agreement:
    """协议书审核: pass → 待反馈; fail (with a reason) → the student may edit it again."""
    require_school_staff(agreement, actor)
    reason = " ".join((reason or "").split())
    if not passed and not reason:
        raise EmploymentError(_("请填写审核不通过的原因。"), field="reason")
    with transaction.atomic():
        locked = lock_agreement(agreement)
        if locked.status != Status.PAPER_REVIEW:
            raise WrongState(_("该协议书当前不在“协议书审核”状态。"))
        locked.status = Status.PAPER_FEEDBACK if passed else Status.PAPER_REVIEW_FAILED
        locked.reason = reason[:300]
        locked.save(update_fields=["status", "reason"])
        text = (
            _("协议书审核通过，待反馈") if passed else _("协议书审核不通过：%(r)s") % {"r": reason}
        )
        event(locked, "paper_reviewed", text, actor)
    return locked


def do_upload_feedback(agreement: Agreement, files: Sequence[Blob], *, actor: User) -> Agreement:
    """反馈协议书: the scan or photos of the paper agreement signed and stamped by the
    employer → 等待签约鉴证."""
    if agreement.student.user_id != actor.pk:
        raise EmploymentError(_("只有学生本人可以反馈协议书。"), status=403)
    if not files:
        raise EmploymentError(_("请上传单位签字盖章后的协议书扫描件或照片。"), field="files")
    if len(files) > MAX_FEEDBACK_FILES:
        raise EmploymentError(_("最多上传 %(n)d 个文件。") % {"n": MAX_FEEDBACK_FILES})
    with transaction.atomic():
        locked = lock_agreement(agreement)
        if locked.status != Status.PAPER_FEEDBACK:
            raise WrongState(_("该协议书当前不需要反馈。"))
        locked.feedback.set(files)
        locked.status = Status.PAPER_WAITING
        locked.save(update_fields=["status"])
        event(locked, "paper_feedback", _("学生反馈协议书，等待签约鉴证"), actor)
    return locked


def do_decide_paper(
    agreement: Agreement, *, passed: bool, reason: str = "", actor: User
) -> Agreement:
    """签约鉴证 of a paper agreement: pass → 就业信息 recorded; fail → the student uploads
    again."""
    require_school_staff(agreement, actor)
    reason = " ".join((reason or "").split())
    if not passed and not reason:
        raise EmploymentError(_("请填写鉴证不通过的原因。"), field="reason")
    with transaction.atomic():
        locked = lock_agreement(agreement)
        if locked.status != Status.PAPER_WAITING:
            raise WrongState(_("该协议书当前不在“等待签约鉴证”状态。"))
        locked.reason = reason[:300]
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        if passed:
            locked.status = Status.PASSED
            locked.save(update_fields=["status", "reason", "decided_by", "decided_at"])
            record_employment(locked)
            event(locked, "passed", _("签约鉴证通过"), actor)
        else:
            locked.status = Status.PAPER_FEEDBACK
            locked.save(update_fields=["status", "reason", "decided_by", "decided_at"])
            event(locked, "failed", _("签约鉴证不通过：%(r)s") % {"r": reason}, actor)
    return locked
