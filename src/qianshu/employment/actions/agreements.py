"""线上签约: invitations (邀请函), the student's answer, expiry and the school's 鉴证.

An invitation is an :class:`~qianshu.employment.models.Agreement` and a *managed* envelope
(:data:`qianshu.envelopes.models.Envelope.Kind.MANAGED`) holding the agreement PDF, with three
steps: the employer's seal (applied when the letter is sent), the student's signature (同意),
the school's seal (签约鉴证通过, which completes the envelope: B-LTA and evidence report). The
envelope moves only through these actions (``managed=True``): the envelope pages, batch
signing and the API refuse it, so the rules below cannot be bypassed there.

Rules, and where they hold:

* One agreement binds a student at a time (accepted, 鉴证 passed, or a paper agreement under
  way): the database refuses a second (``employment_one_binding_agreement``); two 同意 in two
  tabs at once: one wins, the other is told.
* An employer has one open invitation per student (``employment_one_open_invitation``); a
  rejected or expired one lets it invite again.
* An invitation expires at its 反馈期限 (:func:`do_expire_invitations`, run by the timers).
* PINs are checked before the transaction (a wrong PIN is counted even though nothing else
  changes), as everywhere else.

Lock order: the agreement row, then (inside the envelope actions) the envelope and its rows.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.errors import UserError
from qianshu.core.meta import RequestMeta
from qianshu.employment import notices, papers
from qianshu.employment.actions.employers import require_inviting_employer, require_recruiter
from qianshu.employment.errors import EmploymentError, WrongState
from qianshu.employment.models import (
    BINDING_STATES,
    Agreement,
    AgreementEvent,
    Candidate,
    EmploymentRecord,
    RosterEntry,
    Staff,
)
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import lifecycle
from qianshu.envelopes.actions import turns as turn_actions
from qianshu.envelopes.actions.confirmations import confirm_signing
from qianshu.envelopes.compose import RecipientInput
from qianshu.envelopes.confirmations import Confirmation
from qianshu.envelopes.models import Recipient
from qianshu.envelopes.placement import FieldInput
from qianshu.envelopes.turns import SignRequest, StagedField
from qianshu.orgs.models import Organization
from qianshu.signing.stamps import Rect

Status = Agreement.Status
DEFAULT_FEEDBACK_DAYS = 5
MAX_FEEDBACK_DAYS = 30
TERM_KEYS = ("position", "contract_term", "salary", "work_place", "probation", "other_terms")
_LIMITS = {"other_terms": 1000}


@dataclass(frozen=True)
class Letter:
    """邀请函: 签约信息 (``terms``: :data:`TERM_KEYS`), 档案接收信息, 户口接收信息 and the
    反馈期限 in days."""

    terms: Mapping[str, str]
    archive: Mapping[str, str] = field(default_factory=dict)
    hukou: Mapping[str, str] = field(default_factory=dict)
    feedback_days: int = DEFAULT_FEEDBACK_DAYS


@dataclass(frozen=True)
class Sent:
    student: RosterEntry
    agreement: Agreement | None
    problem: str = ""


def clean_letter(letter: Letter) -> Letter:
    """The letter with its texts trimmed; :class:`EmploymentError` naming what is missing."""
    terms = {k: " ".join(str(letter.terms.get(k) or "").split()) for k in TERM_KEYS}
    if not terms["position"]:
        raise EmploymentError(_("请填写拟聘职位。"), field="position")
    for key, value in terms.items():
        if len(value) > _LIMITS.get(key, 100):
            raise EmploymentError(_("签约信息的内容太长。"), field=key)
    if not 1 <= int(letter.feedback_days) <= MAX_FEEDBACK_DAYS:
        raise EmploymentError(
            _("反馈期限应为 1–%(n)d 天。") % {"n": MAX_FEEDBACK_DAYS}, field="feedback_days"
        )
    return Letter(
        terms=terms,
        archive={k: " ".join(str(v).split())[:200] for k, v in letter.archive.items() if v},
        hukou={k: " ".join(str(v).split())[:200] for k, v in letter.hukou.items() if v},
        feedback_days=int(letter.feedback_days),
    )


def event(agreement: Agreement, action: str, text: str, actor: User | None) -> None:
    AgreementEvent.objects.create(agreement=agreement, action=action, text=text[:300], actor=actor)


def new_number() -> str:
    return "JY" + timezone.now().strftime("%Y%m%d") + secrets.token_hex(4).upper()


def check_pin(pin: str, actor: User, meta: RequestMeta) -> Confirmation:
    """The signing PIN, checked before any transaction (a wrong one is counted)."""
    if not pin:
        raise EmploymentError(_("请输入签署密码。"), field="pin")
    return confirm_signing(pin=pin, code=None, binding="", envelopes=[], actor=actor, meta=meta)


def do_send_invitations(
    org: Organization,
    students: Sequence[RosterEntry],
    letter: Letter,
    *,
    seal_uuid: str,
    pin: str,
    actor: User,
    meta: RequestMeta,
) -> list[Sent]:
    """发送签约邀请 (确认发送): one invitation per student, each its own agreement PDF sealed
    with the employer's seal now. A student who cannot be invited (an open invitation of this
    employer) is reported and the others still go out."""
    profile = require_inviting_employer(org, actor)
    letter = clean_letter(letter)
    if not students:
        raise EmploymentError(_("请先勾选要邀约的学生。"))
    # Only students the employer found (签约搜索 or the import, both exact) can be invited: an
    # invitation by a guessed roster id would bypass the four-item rule.
    listed = set(
        Candidate.objects.filter(employer=org, student__in=students).values_list(
            "student_id", flat=True
        )
    )
    if any(s.pk not in listed for s in students):
        raise EmploymentError(_("只能邀约签约发送列表中的学生。"))
    confirmation = check_pin(pin, actor, meta)
    out: list[Sent] = []
    for student in students:
        try:
            with transaction.atomic():
                agreement = _invite(org, profile.basic, student, letter, actor)
                _seal_first(agreement, seal_uuid, confirmation, actor, meta)
                event(agreement, "invited", _("单位发送签约邀请"), actor)
                notices.invitation_sent(agreement)
        except IntegrityError:
            out.append(Sent(student, None, _("已有一份待应约的邀请，不能重复邀约。")))
        except UserError as exc:
            out.append(Sent(student, None, str(exc)))
        else:
            out.append(Sent(student, agreement))
    return out


def _invite(
    org: Organization,
    basic: Mapping[str, str],
    student: RosterEntry,
    letter: Letter,
    actor: User,
) -> Agreement:
    employer_info = {"name": org.name, "credit_code": org.credit_code, **basic}
    return Agreement.objects.create(
        number=new_number(),
        mode=Agreement.Mode.ONLINE,
        status=Status.INVITED,
        student=student,
        employer=org,
        terms=dict(letter.terms),
        archive=dict(letter.archive),
        hukou=dict(letter.hukou),
        employer_info=employer_info,
        deadline=timezone.now() + dt.timedelta(days=letter.feedback_days),
        created_by=actor,
    )


def _seal_first(
    agreement: Agreement,
    seal_uuid: str,
    confirmation: Confirmation,
    actor: User,
    meta: RequestMeta,
) -> None:
    """The envelope of the agreement, sent, with the employer's seal applied."""
    student, school_org = agreement.student, agreement.student.school.org
    rendered = papers.agreement_pdf(agreement)
    envelope = compose_actions.do_create_draft(
        title=_("就业协议书（%(name)s）") % {"name": student.name},
        actor=actor,
        org=agreement.employer,
        auto_remind=False,
        allow_sms_signing=False,
        managed=True,
        meta=meta,
    )
    document = compose_actions.do_add_document(
        envelope, rendered.pdf, f"就业协议书-{agreement.number}.pdf", actor=actor, meta=meta
    )
    assert agreement.employer is not None
    employer, school_contact = agreement.employer, papers.school_contact(student.school)
    recipients = compose_actions.do_set_recipients(
        envelope,
        [
            RecipientInput(
                "seal", 1, employer.name, phone=actor.phone, org_uuid=str(employer.uuid)
            ),
            RecipientInput("sign", 2, student.name, phone=papers.student_phone(student)),
            RecipientInput(
                "seal", 3, school_org.name, phone=school_contact, org_uuid=str(school_org.uuid)
            ),
        ],
        actor=actor,
    )
    by_order = {r.routing_order: r for r in recipients}
    fields = []
    for order, spot, kind in papers.AGREEMENT_FIELDS:
        page, rect = rendered.spots[spot]
        fields.append(
            FieldInput(by_order[order].pk, document.pk, kind, page, Rect(*rect), label="")
        )
    compose_actions.do_set_fields(envelope, fields, actor=actor)
    compose_actions.do_send_envelope(envelope, actor=actor, meta=meta)
    agreement.envelope = envelope
    agreement.save(update_fields=["envelope"])
    sign_step(by_order[1], confirmation, actor, meta, seal_uuid=seal_uuid)


def sign_step(
    recipient: Recipient,
    confirmation: Confirmation,
    actor: User,
    meta: RequestMeta,
    *,
    seal_uuid: str | None = None,
    signature_png: bytes | None = None,
) -> None:
    recipient = Recipient.objects.select_related("envelope").get(pk=recipient.pk)
    envelope = recipient.envelope
    seen = {d.pk: str(d.current_id) for d in envelope.documents.all()}
    staged = [StagedField(field_id=f.pk) for f in recipient.fields.all()]
    turn_actions.do_sign(
        recipient,
        SignRequest(
            key=secrets.token_hex(16),
            seen=seen,
            fields=staged,
            seal_uuid=seal_uuid,
            signature_png=signature_png,
        ),
        confirmation=confirmation,
        managed=True,
        actor=actor,
        meta=meta,
    )


def lock_agreement(agreement: Agreement) -> Agreement:
    return (
        Agreement.objects.select_for_update(of=("self",))
        .select_related("student__school__org", "employer", "envelope")
        .get(pk=agreement.pk)
    )


def _step(agreement: Agreement, order: int) -> Recipient:
    assert agreement.envelope is not None
    return agreement.envelope.recipients.get(routing_order=order)


def _open(agreement: Agreement, now: dt.datetime | None = None) -> None:
    """An invitation the student can still answer."""
    if agreement.status != Status.INVITED:
        raise WrongState(
            _("该邀请当前为“%(status)s”，不能再应约。") % {"status": agreement.get_status_display()}
        )
    if agreement.deadline is not None and agreement.deadline <= (now or timezone.now()):
        raise WrongState(_("该邀请已过反馈期限。"))


def _bound_elsewhere(agreement: Agreement) -> bool:
    return (
        Agreement.objects.filter(student=agreement.student, status__in=BINDING_STATES)
        .exclude(pk=agreement.pk)
        .exists()
    )


def do_accept_invitation(
    agreement: Agreement,
    *,
    pin: str,
    signature_png: bytes | None = None,
    actor: User,
    meta: RequestMeta,
) -> Agreement:
    """同意 (现在签约): the student signs the agreement with their own signature and PIN; it
    then waits for the school's 鉴证. A student already bound by another agreement, an
    invitation no longer open, or somebody else than the student is refused."""
    if agreement.student.user_id != actor.pk:
        raise EmploymentError(_("只有受邀学生本人可以应约。"), status=403)
    confirmation = check_pin(pin, actor, meta)
    try:
        with transaction.atomic():
            locked = lock_agreement(agreement)
            _open(locked)
            if _bound_elsewhere(locked):
                raise WrongState(_("您已与其他单位签约，其他邀请函只能查看。"))
            locked.status = Status.ACCEPTED
            locked.answered_at = timezone.now()
            locked.save(update_fields=["status", "answered_at"])  # the binding constraint
            sign_step(_step(locked, 2), confirmation, actor, meta, signature_png=signature_png)
            RosterEntry.objects.filter(pk=locked.student_id).update(
                status=RosterEntry.Status.SIGNING
            )
            event(locked, "accepted", _("学生同意签约，等待学校鉴证"), actor)
            notices.invitation_answered(locked, accepted=True)
    except IntegrityError as exc:  # another 同意 of this student committed first
        raise WrongState(_("您已与其他单位签约，其他邀请函只能查看。")) from exc
    return locked


def do_reject_invitation(
    agreement: Agreement, reason: str, *, actor: User, meta: RequestMeta
) -> Agreement:
    """拒绝: the invitation ends; the employer may invite the student again."""
    if agreement.student.user_id != actor.pk:
        raise EmploymentError(_("只有受邀学生本人可以应约。"), status=403)
    reason = " ".join((reason or "").split()) or _("学生拒绝签约")
    with transaction.atomic():
        locked = lock_agreement(agreement)
        _open(locked)
        locked.status = Status.REJECTED
        locked.answered_at = timezone.now()
        locked.reason = reason[:300]
        locked.save(update_fields=["status", "answered_at", "reason"])
        turn_actions.do_reject(_step(locked, 2), reason, managed=True, actor=actor, meta=meta)
        event(locked, "rejected", _("学生拒绝签约：%(r)s") % {"r": reason}, actor)
        notices.invitation_answered(locked, accepted=False)
    return locked


def do_expire_invitations(now: dt.datetime | None = None, *, meta: RequestMeta) -> int:
    """Invitations past their 反馈期限 expire (a timer; one agreement per transaction)."""
    now = now or timezone.now()
    ids = list(
        Agreement.objects.filter(status=Status.INVITED, deadline__lte=now).values_list(
            "pk", flat=True
        )[:500]
    )
    count = 0
    for pk in ids:
        with transaction.atomic():
            locked = lock_agreement(Agreement(pk=pk))
            if locked.status != Status.INVITED or locked.deadline is None or locked.deadline > now:
                continue
            locked.status = Status.EXPIRED
            locked.save(update_fields=["status"])
            if locked.envelope is not None:
                lifecycle.do_expire_managed(
                    locked.envelope, reason=_("邀请已过反馈期限"), meta=meta
                )
            event(locked, "expired", _("邀请已过反馈期限"), None)
            count += 1
    return count


def require_school_staff(agreement: Agreement, actor: User) -> Staff:
    """学校管理员, or the 学院管理员 of the student's college."""
    staff = Staff.objects.filter(school_id=agreement.student.school_id, user=actor).first()
    if staff is None or (
        staff.role == Staff.Role.COLLEGE_ADMIN and staff.college_id != agreement.student.college_id
    ):
        raise EmploymentError(_("只有学生所在学校或学院的管理员可以鉴证。"), status=403)
    return staff


SCHOOL_COMPLETES = ("nature", "industry", "location", "address")


def do_pass_agreement(
    agreement: Agreement,
    *,
    employer_info: Mapping[str, str],
    seal_uuid: str,
    pin: str,
    actor: User,
    meta: RequestMeta,
) -> Agreement:
    """签约鉴证通过: the school completes 单位性质/单位行业/单位所在地 where missing and applies
    its seal; the envelope completes (B-LTA, evidence report) and the student's employment is
    recorded (就业信息)."""
    require_school_staff(agreement, actor)
    confirmation = check_pin(pin, actor, meta)
    with transaction.atomic():
        locked = lock_agreement(agreement)
        if locked.status != Status.ACCEPTED or locked.mode != Agreement.Mode.ONLINE:
            raise WrongState(_("该协议当前不在“等待签约鉴证”状态。"))
        info = dict(locked.employer_info)
        for key in SCHOOL_COMPLETES:
            value = " ".join(str(employer_info.get(key) or "").split())[:100]
            if value and not info.get(key):
                info[key] = value
        missing = [k for k in ("nature", "industry", "location") if not info.get(k)]
        if missing:
            raise EmploymentError(_("请填写单位性质、单位行业和单位所在地。"), field=missing[0])
        locked.employer_info = info
        _decide(locked, Status.PASSED, "", actor)
        sign_step(_step(locked, 3), confirmation, actor, meta, seal_uuid=seal_uuid)
        record_employment(locked)
        event(locked, "passed", _("签约鉴证通过"), actor)
        notices.agreement_decided(locked)
    return locked


def do_fail_agreement(
    agreement: Agreement, reason: str, *, actor: User, meta: RequestMeta
) -> Agreement:
    """签约鉴证不通过 (with a reason): the agreement ends and the student is free again."""
    require_school_staff(agreement, actor)
    reason = " ".join((reason or "").split())
    if not reason:
        raise EmploymentError(_("请填写鉴证不通过的原因。"), field="reason")
    with transaction.atomic():
        locked = lock_agreement(agreement)
        if locked.status != Status.ACCEPTED or locked.mode != Agreement.Mode.ONLINE:
            raise WrongState(_("该协议当前不在“等待签约鉴证”状态。"))
        _decide(locked, Status.FAILED, reason, actor)
        turn_actions.do_reject(_step(locked, 3), reason, managed=True, actor=actor, meta=meta)
        RosterEntry.objects.filter(pk=locked.student_id).update(status=RosterEntry.Status.UNSIGNED)
        event(locked, "failed", _("签约鉴证不通过：%(r)s") % {"r": reason}, actor)
        notices.agreement_decided(locked)
    return locked


def _decide(agreement: Agreement, status: str, reason: str, actor: User) -> None:
    agreement.status = status
    agreement.reason = reason[:300]
    agreement.decided_by = actor
    agreement.decided_at = timezone.now()
    agreement.save(update_fields=["status", "reason", "decided_by", "decided_at", "employer_info"])


def record_employment(agreement: Agreement) -> None:
    """就业信息 of a passed agreement (the student's roster status: 已签约)."""
    EmploymentRecord.objects.create(
        student=agreement.student,
        agreement=agreement,
        employer_name=agreement.employer_name[:100],
        position=str(agreement.terms.get("position", ""))[:100],
    )
    RosterEntry.objects.filter(pk=agreement.student_id).update(status=RosterEntry.Status.SIGNED)


def require_employer(agreement: Agreement, actor: User) -> None:
    if agreement.employer is None:
        raise EmploymentError(_("线下签约的单位不在平台办理。"), status=403)
    require_recruiter(agreement.employer, actor)
