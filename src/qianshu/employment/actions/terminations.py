"""解约: one party applies, the other agrees (or refuses), the school's 解约鉴证 decides.

Online (线上签约): the 解约函 is a managed envelope signed in the order the parties act — the
applicant when applying (the student's signature, or the employer's seal), the other party
when agreeing, the school's seal when it passes — so the letter carries both consents and the
鉴证 as signatures. On paper (线下签约) the student applies alone with the employer's stamped
termination proof uploaded; the school decides.

Rules: only an agreement in force (签约鉴证通过) can be terminated; one termination under way
per agreement (``employment_one_open_termination``) and, 解约机会仅有一次, one that took effect
per student (``employment_one_termination``), both database constraints. A refused or failed
termination leaves the agreement valid; either party may apply again.
"""

from __future__ import annotations

import dataclasses

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.employment import notices, papers
from qianshu.employment.actions.agreements import (
    check_pin,
    event,
    lock_agreement,
    require_employer,
    require_school_staff,
    sign_step,
)
from qianshu.employment.errors import EmploymentError, WrongState
from qianshu.employment.models import Agreement, EmploymentRecord, RosterEntry, Termination
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import turns as turn_actions
from qianshu.envelopes.compose import RecipientInput
from qianshu.envelopes.models import Recipient
from qianshu.envelopes.placement import FieldInput
from qianshu.signing.stamps import Rect
from qianshu.storage.models import Blob

Side = Termination.Side
TStatus = Termination.Status
MAX_REASON = 500


def _reason(reason: str) -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise EmploymentError(_("请填写解约原因。"), field="reason")
    if len(text) > MAX_REASON:
        raise EmploymentError(_("解约原因最多 %(n)d 个字。") % {"n": MAX_REASON}, field="reason")
    return text


def _check_side(agreement: Agreement, side: str, actor: User) -> None:
    if side == Side.STUDENT:
        if agreement.student.user_id != actor.pk:
            raise EmploymentError(_("只有该学生本人可以办理。"), status=403)
    elif side == Side.EMPLOYER:
        require_employer(agreement, actor)
    else:
        raise EmploymentError(_("请选择申请方。"))


def _terminable(agreement: Agreement) -> None:
    if agreement.status != Agreement.Status.PASSED:
        raise WrongState(_("只有已通过签约鉴证的协议可以申请解约。"))
    if Termination.objects.filter(student=agreement.student, status=TStatus.PASSED).exists():
        raise EmploymentError(_("解约机会仅有一次，该学生已解约过，不能再次申请。"))
    if Termination.objects.filter(
        agreement=agreement, status__in=(TStatus.APPLIED, TStatus.AGREED)
    ).exists():
        raise WrongState(_("该协议已有一份解约申请正在办理。"))


def do_apply_termination(
    agreement: Agreement,
    side: str,
    reason: str,
    *,
    pin: str,
    seal_uuid: str = "",
    actor: User,
    meta: RequestMeta,
) -> Termination:
    """申请解约 (online): after 解约须知, the applicant's reason, signed into the 解约函 with
    their PIN (the employer with its seal)."""
    if agreement.mode != Agreement.Mode.ONLINE:
        raise EmploymentError(_("线下签约的解约请上传单位盖章的解约证明。"))
    _check_side(agreement, side, actor)
    reason = _reason(reason)
    confirmation = check_pin(pin, actor, meta)
    try:
        with transaction.atomic():
            locked = lock_agreement(agreement)
            _terminable(locked)
            termination = Termination.objects.create(
                agreement=locked,
                student=locked.student,
                side=side,
                status=TStatus.APPLIED,
                reason=reason,
                applied_by=actor,
            )
            _letter(termination, actor, meta)
            first = termination.letter.recipients.get(routing_order=1)  # type: ignore[union-attr]
            sign_step(first, confirmation, actor, meta, seal_uuid=seal_uuid or None)
            event(locked, "termination_applied", _("申请解约：%(r)s") % {"r": reason}, actor)
            notices.termination_applied(termination)
    except IntegrityError as exc:
        raise WrongState(_("该协议已有一份解约申请正在办理。")) from exc
    return termination


def _letter(termination: Termination, actor: User, meta: RequestMeta) -> None:
    """The 解约函 envelope: the applicant first, the other party, then the school."""
    agreement = termination.agreement
    student, employer = agreement.student, agreement.employer
    assert employer is not None
    school_org = student.school.org
    rendered = papers.termination_pdf(termination)
    envelope = compose_actions.do_create_draft(
        title=_("解约函（%(name)s）") % {"name": student.name},
        actor=actor,
        org=employer if termination.side == Side.EMPLOYER else None,
        auto_remind=False,
        allow_sms_signing=False,
        managed=True,
        meta=meta,
    )
    document = compose_actions.do_add_document(
        envelope, rendered.pdf, f"解约函-{agreement.number}.pdf", actor=actor, meta=meta
    )
    employer_phone = agreement.created_by.phone
    student_step = RecipientInput("sign", 1, student.name, phone=papers.student_phone(student))
    employer_step = RecipientInput(
        "seal", 1, employer.name, phone=employer_phone, org_uuid=str(employer.uuid)
    )
    first, second = (
        (student_step, employer_step)
        if termination.side == Side.STUDENT
        else (employer_step, student_step)
    )
    school_step = RecipientInput(
        "seal",
        3,
        school_org.name,
        phone=papers.school_contact(student.school),
        org_uuid=str(school_org.uuid),
    )
    recipients = compose_actions.do_set_recipients(
        envelope,
        [first, dataclasses.replace(second, routing_order=2), school_step],
        actor=actor,
    )
    by_order = {r.routing_order: r for r in recipients}
    other = Side.EMPLOYER if termination.side == Side.STUDENT else Side.STUDENT
    order_of = {termination.side: 1, other: 2, "school": 3}
    fields = []
    for order, spot, kind in papers.AGREEMENT_FIELDS:  # the same blocks as the agreement
        party = {1: Side.EMPLOYER, 2: Side.STUDENT, 3: "school"}[order]
        page, rect = rendered.spots[spot]
        recipient = by_order[order_of[party]]
        fields.append(FieldInput(recipient.pk, document.pk, kind, page, Rect(*rect)))
    compose_actions.do_set_fields(envelope, fields, actor=actor)
    compose_actions.do_send_envelope(envelope, actor=actor, meta=meta)
    termination.letter = envelope
    termination.save(update_fields=["letter"])


def _locked_termination(termination: Termination) -> tuple[Termination, Agreement]:
    agreement = lock_agreement(termination.agreement)
    locked = (
        Termination.objects.select_for_update(of=("self",))
        .select_related("letter")
        .get(pk=termination.pk)
    )
    return locked, agreement


def _other_side(termination: Termination) -> str:
    return Side.EMPLOYER if termination.side == Side.STUDENT else Side.STUDENT


def do_answer_termination(
    termination: Termination,
    *,
    agree: bool,
    pin: str = "",
    seal_uuid: str = "",
    reason: str = "",
    actor: User,
    meta: RequestMeta,
) -> Termination:
    """同意解约 (after the 解约须知, signed with the PIN; the employer with its seal) or
    不同意 (the agreement stays valid)."""
    _check_side(termination.agreement, _other_side(termination), actor)
    confirmation = check_pin(pin, actor, meta) if agree else None
    with transaction.atomic():
        locked, _agreement = _locked_termination(termination)
        if locked.status != TStatus.APPLIED:
            raise WrongState(_("该解约申请当前为“%(s)s”。") % {"s": locked.get_status_display()})
        step = _step(locked, 2)
        if agree:
            assert confirmation is not None
            sign_step(step, confirmation, actor, meta, seal_uuid=seal_uuid or None)
            locked.status = TStatus.AGREED
            text = _("对方同意解约，等待学校解约鉴证")
        else:
            refusal = " ".join((reason or "").split()) or _("对方不同意解约")
            turn_actions.do_reject(step, refusal, managed=True, actor=actor, meta=meta)
            locked.status = TStatus.REFUSED
            locked.decision_reason = refusal[:300]
            text = _("对方不同意解约：%(r)s") % {"r": refusal}
        locked.answered_by = actor
        locked.answered_at = timezone.now()
        locked.save(update_fields=["status", "answered_by", "answered_at", "decision_reason"])
        event(locked.agreement, "termination_answered", text, actor)
        notices.termination_decided(locked)
    return locked


def _step(termination: Termination, order: int) -> Recipient:
    assert termination.letter is not None
    return termination.letter.recipients.get(routing_order=order)


def do_apply_paper_termination(
    agreement: Agreement, reason: str, proof: Blob, *, actor: User, meta: RequestMeta
) -> Termination:
    """线下签约 解约申请: the student's reason and the employer's stamped proof (uploaded);
    it goes straight to the school's 鉴证."""
    if agreement.mode != Agreement.Mode.OFFLINE:
        raise EmploymentError(_("线上签约的解约请在线申请。"))
    _check_side(agreement, Side.STUDENT, actor)
    reason = _reason(reason)
    try:
        with transaction.atomic():
            locked = lock_agreement(agreement)
            _terminable(locked)
            termination = Termination.objects.create(
                agreement=locked,
                student=locked.student,
                side=Side.STUDENT,
                status=TStatus.AGREED,
                reason=reason,
                proof=proof,
                applied_by=actor,
            )
            event(
                locked, "termination_applied", _("申请解约（线下）：%(r)s") % {"r": reason}, actor
            )
    except IntegrityError as exc:
        raise WrongState(_("该协议已有一份解约申请正在办理。")) from exc
    return termination


def do_decide_termination(
    termination: Termination,
    *,
    passed: bool,
    reason: str = "",
    pin: str = "",
    seal_uuid: str = "",
    actor: User,
    meta: RequestMeta,
) -> Termination:
    """解约鉴证: pass — the school seals the 解约函 (online), the agreement is terminated, the
    employment record ends and the student may sign again; fail (with a reason) — the agreement
    stays valid."""
    require_school_staff(termination.agreement, actor)
    reason = " ".join((reason or "").split())
    if not passed and not reason:
        raise EmploymentError(_("请填写鉴证不通过的原因。"), field="reason")
    online = termination.letter_id is not None
    confirmation = check_pin(pin, actor, meta) if passed and online else None
    try:
        with transaction.atomic():
            locked, agreement = _locked_termination(termination)
            if locked.status != TStatus.AGREED:
                raise WrongState(_("该解约申请当前不在“等待解约鉴证”状态。"))
            if passed:
                if confirmation is not None:
                    sign_step(_step(locked, 3), confirmation, actor, meta, seal_uuid=seal_uuid)
                locked.status = TStatus.PASSED
                agreement.status = Agreement.Status.TERMINATED
                agreement.save(update_fields=["status"])
                EmploymentRecord.objects.filter(agreement=agreement, ended_at=None).update(
                    ended_at=timezone.now()
                )
                RosterEntry.objects.filter(pk=agreement.student_id).update(
                    status=RosterEntry.Status.TERMINATED
                )
                text = _("解约鉴证通过，协议已解除")
            else:
                if online:
                    turn_actions.do_reject(
                        _step(locked, 3), reason, managed=True, actor=actor, meta=meta
                    )
                locked.status = TStatus.FAILED
                text = _("解约鉴证不通过：%(r)s") % {"r": reason}
            locked.decided_by = actor
            locked.decided_at = timezone.now()
            locked.decision_reason = reason[:300]
            locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
            event(agreement, "termination_decided", text, actor)
            notices.termination_decided(locked)
    except IntegrityError as exc:  # a termination of this student took effect meanwhile
        raise EmploymentError(_("解约机会仅有一次，该学生已解约过。")) from exc
    return locked
