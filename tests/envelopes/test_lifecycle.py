"""Envelope actions beyond the happy path: rejection, recall, expiry, reminders, CC, void,
SMS-code signing, free placement, cross-page seals, checks that refuse, the audit chain."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader

from qianshu.core.meta import TASK
from qianshu.envelopes import compose, confirmations, tasks, turns
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import confirmations as confirmations_actions
from qianshu.envelopes.actions import lifecycle
from qianshu.envelopes.actions import turns as turns_actions
from qianshu.envelopes.actions import voiding as voiding_actions
from qianshu.envelopes.audit import check_chain
from qianshu.envelopes.errors import DocumentChanged, EnvelopeError, NotYourTurn
from qianshu.envelopes.models import AuditEvent, Envelope, Field, Recipient
from qianshu.notifications.models import OutboxMessage
from qianshu.pki.models import IssuedCertificate
from qianshu.pki.platform import load_platform
from qianshu.signing import documents
from qianshu.signing.stamps import Rect
from qianshu.signing.verify import verify_pdf
from tests.envelopes.helpers import all_fields, field, seen, sign
from tests.signing.test_filltext import pdftotext
from tests.support.accounts import sms_code
from tests.support.personas import make_verified_person, real_name, seal_of

pytestmark = pytest.mark.django_db


def _send(envelope: Envelope) -> Envelope:
    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(envelope, actor=envelope.initiator, meta=TASK)
    envelope.refresh_from_db()
    return envelope


def _valid(data: bytes) -> Any:
    report = verify_pdf(data, load_platform().trust())
    assert report.verdict == "valid", report.reason
    for signature in report.signatures:
        assert signature.intact and signature.trusted, signature
        assert signature.modification_level in ("none", "form_filling", "lta_updates"), signature
    return report


def _sms(phone: str, kind: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(channel="sms", recipient=phone, kind=kind))


def test_rejection_ends_the_envelope_and_tells_the_others(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelope = _send(build.draft(alice, [("sign", 1, bob), ("sign", 2, charlie)]))
    first = envelope.recipients.get(routing_order=1)
    with pytest.raises(EnvelopeError, match="原因"):
        turns_actions.do_reject(first, "  ", actor=bob, meta=TASK)
    turns_actions.do_reject(first, "金额有误", actor=bob, meta=TASK)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.REJECTED and envelope.end_reason == "金额有误"
    assert _sms(alice.phone, "envelope_rejected")
    assert not _sms(charlie.phone, "envelope_sign_request")  # never reached
    with pytest.raises(NotYourTurn):
        sign(envelope.recipients.get(routing_order=2), charlie)
    assert envelope.events.filter(action="rejected").exists()


def test_recall_stops_signing(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = _send(build.draft(alice, [("sign", 1, bob)]))
    with pytest.raises(EnvelopeError):
        lifecycle.do_recall(envelope, actor=bob, meta=TASK)
    lifecycle.do_recall(envelope, reason="条款要改", actor=alice, meta=TASK)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.RECALLED
    assert _sms(bob.phone, "envelope_recalled")
    with pytest.raises(NotYourTurn, match="已撤回"):
        sign(envelope.recipients.get(), bob)
    with pytest.raises(EnvelopeError):
        lifecycle.do_recall(envelope, actor=alice, meta=TASK)


def test_expiry_by_the_timer(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    deadline = timezone.now() + dt.timedelta(hours=2)
    envelope = _send(build.draft(alice, [("sign", 1, bob)], deadline=deadline))
    assert tasks.run_timers()["expired"] == 0
    later = deadline + dt.timedelta(minutes=1)
    assert lifecycle.do_expire_overdue_envelopes(now=later, meta=TASK) == 1
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.EXPIRED
    assert _sms(alice.phone, "envelope_expired") and _sms(bob.phone, "envelope_expired")
    assert lifecycle.do_expire_overdue_envelopes(now=later, meta=TASK) == 0


def test_reminders_by_hand_and_before_the_deadline(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    deadline = timezone.now() + dt.timedelta(hours=30)
    envelope = _send(build.draft(alice, [("sign", 1, bob)], deadline=deadline))
    assert lifecycle.do_remind(envelope, actor=alice, meta=TASK) == 1
    with pytest.raises(EnvelopeError, match="一小时"):
        lifecycle.do_remind(envelope, actor=alice, meta=TASK)
    with pytest.raises(EnvelopeError):
        lifecycle.do_remind(envelope, actor=bob, meta=TASK)
    assert len(_sms(bob.phone, "envelope_reminder")) == 1
    # A day before the deadline, once (the manual reminder was more than an hour earlier).
    Recipient.objects.update(last_reminded_at=timezone.now() - dt.timedelta(hours=2))
    soon = deadline - dt.timedelta(hours=20)
    assert lifecycle.do_remind_before_deadline(now=soon, meta=TASK) == 1
    assert lifecycle.do_remind_before_deadline(now=soon, meta=TASK) == 0
    assert len(_sms(bob.phone, "envelope_reminder")) == 2
    assert envelope.events.filter(action="reminded").count() == 2


def test_cc_gets_the_completed_file(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    draft = build.draft(alice, [("sign", 1, bob), ("cc", 1, charlie)])
    compose_actions.do_set_recipients(
        draft,
        [
            compose.RecipientInput(r.role, r.routing_order, r.name, r.phone, id=r.pk)
            for r in draft.recipients.all()
        ]
        + [compose.RecipientInput("cc", 1, "档案室", email="archive@example.com")],
        actor=alice,
    )
    envelope = _send(draft)
    assert not _sms(charlie.phone, "envelope_sign_request")
    sign(envelope.recipients.get(role="sign"), bob)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    assert _sms(charlie.phone, "envelope_cc")
    mail = OutboxMessage.objects.get(channel="email", recipient="archive@example.com")
    assert mail.kind == "envelope_cc" and mail.attachments


def test_parallel_step_waits_for_everyone(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelope = _send(
        build.draft(alice, [("sign", 1, bob), ("sign", 1, charlie), ("sign", 2, alice)])
    )
    statuses = dict(envelope.recipients.values_list("name", "status"))
    assert statuses[real_name(bob)] == statuses[real_name(charlie)] == "pending"
    assert statuses[real_name(alice)] == "waiting"
    sign(envelope.recipients.get(name=real_name(charlie)), charlie)
    assert envelope.recipients.get(name=real_name(alice)).status == "waiting"
    sign(envelope.recipients.get(name=real_name(bob)), bob)
    assert envelope.recipients.get(name=real_name(alice)).status == "pending"
    sign(envelope.recipients.get(name=real_name(alice)), alice)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    _valid(envelope.documents.get().current.read())


def test_sms_code_signing_uses_a_one_time_event_certificate(people: dict, build: Any) -> None:
    alice = people["alice"]
    dave = make_verified_person("dave", "13800000044", real_name="赵大卫")  # no PIN set
    from qianshu.accounts.actions import do_save_signature
    from qianshu.accounts.signatures import SignatureImage
    from qianshu.core.meta import TASK
    from tests.support.personas import signature_png

    do_save_signature(
        SignatureImage.from_png(signature_png()), source="drawn", actor=dave, meta=TASK
    )
    envelope = _send(build.draft(alice, [("sign", 1, dave)]))
    recipient = envelope.recipients.get()
    assert confirmations.needs_code(dave)
    binding = confirmations.confirmation_binding(envelope, seen(envelope))
    confirmations_actions.do_send_signing_code(binding, envelopes=[envelope], actor=dave, meta=TASK)
    code = sms_code(dave.phone, "sign_code")
    with pytest.raises(EnvelopeError, match="验证码"):
        sign(recipient, dave, code="000000" if code != "000000" else "111111")
    # The code is bound to this envelope and these hashes: another binding does not take it.
    with pytest.raises(EnvelopeError):
        confirmations_actions.confirm_signing(
            pin=None, code=code, binding="other", envelopes=[envelope], actor=dave, meta=TASK
        )
    sign(recipient, dave, code=code)
    recipient.refresh_from_db()
    assert recipient.status == "done"
    assert recipient.certificate is not None
    assert recipient.certificate.kind == IssuedCertificate.Kind.EVENT
    _valid(envelope.documents.get().current.read())


def test_a_person_whose_verified_name_differs_cannot_sign(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    draft = build.draft(alice, [("sign", 1, bob)], fields=False)
    compose_actions.do_set_recipients(
        draft, [compose.RecipientInput("sign", 1, "别人", bob.phone)], actor=alice
    )
    envelope = _send(draft)
    with pytest.raises(EnvelopeError, match="实名信息不一致"):
        sign(envelope.recipients.get(), bob)


def test_an_unverified_person_is_told_to_verify(people: dict, build: Any) -> None:
    from tests.support.accounts import make_user

    alice = people["alice"]
    erin = make_user("erin", phone="13800000055")
    draft = build.draft(alice, [("sign", 1, alice)], fields=False)
    compose_actions.do_set_recipients(
        draft, [compose.RecipientInput("sign", 1, "鄂琳", erin.phone)], actor=alice
    )
    envelope = _send(draft)
    with pytest.raises(EnvelopeError, match="实名认证"):
        turns.check_signer(envelope.recipients.get(), erin)


def test_document_seen_must_be_a_revision_of_it(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = _send(build.draft(alice, [("sign", 1, bob)]))
    recipient = envelope.recipients.get()
    request = turns.SignRequest(
        key=uuid.uuid4().hex,
        seen={envelope.documents.get().pk: "0" * 64},
        fields=all_fields(recipient),
    )
    with pytest.raises(DocumentChanged):
        turns_actions.do_sign(recipient, request, pin="802461", actor=bob, meta=TASK)
    assert envelope.documents.get().revision == 1


def test_every_field_must_be_staged(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = _send(build.draft(alice, [("sign", 1, bob)]))
    recipient = envelope.recipients.get()
    staged = all_fields(recipient)[:1]
    request = turns.SignRequest(key="x", seen=seen(envelope), fields=staged)
    with pytest.raises(EnvelopeError, match="未签署"):
        turns_actions.do_sign(recipient, request, pin="802461", actor=bob, meta=TASK)


def test_a_member_without_a_grant_cannot_seal(people: dict, seal_org: Any, build: Any) -> None:
    from qianshu.orgs.models import Membership

    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = seal_org(charlie, "某某大学招标办公室")
    Membership.objects.create(org=org, user=bob, role=Membership.Role.MEMBER)
    envelope = _send(build.draft(alice, [("seal", 1, org)]))
    recipient = envelope.recipients.get()
    with pytest.raises(EnvelopeError, match="授权"):
        sign(recipient, bob, seal=seal_of(org))
    assert envelope.documents.get().revision == 1
    sign(recipient, charlie, seal=seal_of(org))


def test_required_seal_kind_is_enforced(people: dict, seal_org: Any, build: Any) -> None:
    alice, charlie = people["alice"], people["charlie"]
    org = seal_org(charlie, "某某大学招标办公室", kind="finance")
    draft = build.draft(alice, [("seal", 1, org)])
    recipient = draft.recipients.get()
    compose_actions.do_set_recipients(
        draft,
        [
            compose.RecipientInput(
                "seal",
                1,
                org.name,
                charlie.phone,
                required_seal_kind="contract",
                id=recipient.pk,
                org_uuid=str(org.uuid),
            )
        ],
        actor=alice,
    )
    envelope = _send(draft)
    with pytest.raises(EnvelopeError):
        sign(envelope.recipients.get(), charlie, seal=seal_of(org))


def test_free_placement_and_a_cross_page_seal(people: dict, seal_org: Any, build: Any) -> None:
    """指定位置签署: recipients without fields place them while signing; the document is then
    prepared with an approval signature, not certified."""
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = seal_org(charlie, "厦门某某供应链有限公司")
    envelope = _send(
        build.draft(alice, [("sign", 1, bob), ("seal", 2, org)], pages=3, fields=False)
    )
    document = envelope.documents.get()
    assert not document.certified
    bob_recipient = envelope.recipients.get(role="sign")
    free_signature = turns.StagedField(
        document_id=document.pk, kind="signature", page=2, rect=Rect(60, 90, 200, 146)
    )
    sign(bob_recipient, bob, extra=[free_signature])
    org_recipient = envelope.recipients.get(role="seal")
    seal_field = turns.StagedField(
        document_id=document.pk, kind="seal", page=2, rect=Rect(300, 80, 419, 199)
    )
    cross_page = turns.StagedField(
        document_id=document.pk,
        kind="cross_page_seal",
        page=0,
        rect=Rect(0, 360, 0, 479),
        pages=(0, 1, 2),
    )
    sign(org_recipient, charlie, seal=seal_of(org), extra=[seal_field, cross_page])
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    data = envelope.documents.get().current.read()
    report = _valid(data)
    names = set(documents.signature_fields(data))
    cross = Field.objects.get(kind="cross_page_seal")
    assert cross.pdf_field_names() == [f"QS-F{cross.pk}"] and f"QS-F{cross.pk}" in names
    assert Field.objects.filter(placed_by_signer=True).count() == 3
    # The cross-page seal is ONE signature whose field has a widget on each of its 3 pages.
    (slices,) = [s for s in report.signatures if s.field_name == f"QS-F{cross.pk}"]
    assert slices.verdict == "valid"
    assert _widget_pages(data, f"QS-F{cross.pk}") == [0, 1, 2]
    # platform + Bob + seal + cross-page seal + completion lock + document time-stamp
    assert len(report.signatures) == 6


def _widget_pages(data: bytes, name: str) -> list[int]:
    reader = PdfFileReader(io.BytesIO(data))
    (sig,) = [s for s in reader.embedded_signatures if s.field_name == name]
    page_refs = [p.reference for p in reader.root["/Pages"]["/Kids"]]
    return [page_refs.index(k.get_object().raw_get("/P").reference) for k in sig.sig_field["/Kids"]]


def _cross_page_field(draft: Envelope, recipient: Recipient) -> Field:
    """A cross-page seal over both pages of the draft's document, placed by the initiator."""
    return Field.objects.create(
        envelope=draft,
        document=draft.documents.get(),
        recipient=recipient,
        kind="cross_page_seal",
        page=0,
        x1=0,
        y1=360,
        x2=0,
        y2=479,
        pages=[0, 1],
    )


def test_a_declared_cross_page_seal_is_one_signature_on_an_uncertified_document(
    people: dict, seal_org: Any, build: Any
) -> None:
    """An initiator who places a cross-page seal gets an uncertified document (the seal's field
    is made when it is signed); completion locks it."""
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = seal_org(charlie, "厦门某某供应链有限公司")
    draft = build.draft(alice, [("sign", 1, bob), ("seal", 2, org)], pages=2)
    cross = _cross_page_field(draft, draft.recipients.get(role="seal"))
    envelope = _send(draft)
    document = envelope.documents.get()
    assert not document.certified
    assert f"QS-F{cross.pk}" not in documents.signature_fields(document.current.read())
    sign(envelope.recipients.get(role="sign"), bob)
    sign(envelope.recipients.get(role="seal"), charlie, seal=seal_of(org))
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    data = envelope.documents.get().current.read()
    report = _valid(data)
    assert _widget_pages(data, f"QS-F{cross.pk}") == [0, 1]
    assert [s.field_name for s in report.signatures][-2:] == ["QS-Completion", "QS-DocTimeStamp"]


def test_free_placement_is_refused_on_a_certified_document(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = _send(build.draft(alice, [("sign", 1, bob)]))
    document = envelope.documents.get()
    assert document.certified
    extra = turns.StagedField(
        document_id=document.pk, kind="signature", page=0, rect=Rect(300, 300, 420, 350)
    )
    with pytest.raises(EnvelopeError, match="指定位置"):
        sign(envelope.recipients.get(), bob, extra=[extra])


def test_text_fields_need_a_value(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    draft = build.draft(alice, [("sign", 1, bob)], fields=False)
    recipient = draft.recipients.get()
    document = draft.documents.get()
    compose_actions.do_set_fields(
        draft,
        [
            field(document, recipient, "signature", 1, (40, 40, 160, 88)),
            compose.FieldInput(
                recipient.pk, document.pk, "text", 1, Rect(40, 100, 200, 122), label="考核等次"
            ),
        ],
        actor=alice,
    )
    envelope = _send(draft)
    recipient.refresh_from_db()
    text = recipient.fields.get(kind="text")
    staged = [turns.StagedField(field_id=f.pk) for f in recipient.fields.all()]
    request = turns.SignRequest(key="a", seen=seen(envelope), fields=staged)
    with pytest.raises(EnvelopeError, match="考核等次"):
        turns_actions.do_sign(recipient, request, pin="802461", actor=bob, meta=TASK)
    staged = [
        turns.StagedField(field_id=f.pk, value="优秀" if f.pk == text.pk else "")
        for f in recipient.fields.all()
    ]
    with TestCase.captureOnCommitCallbacks(execute=True):
        turns_actions.do_sign(
            recipient,
            turns.SignRequest(key="b", seen=seen(envelope), fields=staged),
            pin="802461",
            actor=bob,
            meta=TASK,
        )
    text.refresh_from_db()
    assert text.value == "优秀" and text.filled_at is not None


def _text_envelope(people: dict, build: Any, box: Rect) -> tuple[Envelope, Recipient]:
    alice, bob = people["alice"], people["bob"]
    draft = build.draft(alice, [("sign", 1, bob)], fields=False)
    recipient = draft.recipients.get()
    document = draft.documents.get()
    compose_actions.do_set_fields(
        draft,
        [
            field(document, recipient, "signature", 1, (40, 40, 160, 88)),
            field(document, recipient, "date", 1, (200, 40, 310, 62)),
            compose.FieldInput(recipient.pk, document.pk, "text", 1, box, label="自评"),
        ],
        actor=alice,
    )
    return _send(draft), recipient


def _sign_text(envelope: Envelope, recipient: Recipient, bob: Any, value: str, key: str) -> None:
    text = recipient.fields.get(kind="text")
    staged = [
        turns.StagedField(field_id=f.pk, value=value if f.pk == text.pk else "")
        for f in recipient.fields.all()
    ]
    with TestCase.captureOnCommitCallbacks(execute=True):
        turns_actions.do_sign(
            recipient,
            turns.SignRequest(key=key, seen=seen(envelope), fields=staged),
            pin="802461",
            actor=bob,
            meta=TASK,
        )


def test_signer_filled_text_and_date_are_real_text_under_the_signers_signature(
    people: dict, build: Any
) -> None:
    """自评 and 签署日期 are the appearances of the signer's own signatures, drawn as PDF
    text: pdftotext gives them back, and each signature covers its value."""
    envelope, recipient = _text_envelope(people, build, Rect(40, 100, 400, 160))
    value = "本年度完成教学任务，积极参与学科建设。"
    _sign_text(envelope, recipient, people["bob"], value, "a")
    data = envelope.documents.get().current.read()
    words = "".join(pdftotext(data).split())
    assert value in words
    assert timezone.localdate().strftime("%Y年%m月%d日") in words
    report = _valid(data)
    text_field = recipient.fields.get(kind="text").pdf_field_names()[0]
    mine = next(s for s in report.signatures if s.field_name == text_field)
    assert mine.verdict == "valid" and mine.signer_name == real_name(people["bob"])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("很长的自评" * 12, "“自评”的内容太长"),
        ("表情😀不能写", "“自评”含有无法显示的字符“😀”"),
    ],
)
def test_signer_text_that_cannot_be_written_is_refused_naming_the_field(
    people: dict, build: Any, value: str, message: str
) -> None:
    envelope, recipient = _text_envelope(people, build, Rect(40, 100, 200, 122))
    with pytest.raises(EnvelopeError, match=message):
        _sign_text(envelope, recipient, people["bob"], value, "a")
    recipient.refresh_from_db()
    assert recipient.status != Recipient.Status.DONE
    assert not recipient.fields.filter(filled_at__isnull=False).exists()
    # Shortened, the same signer signs.
    _sign_text(envelope, recipient, people["bob"], "合格", "b")
    assert "合格" in pdftotext(envelope.documents.get().current.read())


def test_void_statement_signed_by_all_voids_the_original(
    people: dict, seal_org: Any, build: Any
) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = seal_org(charlie, "厦门某某供应链有限公司")
    envelope = _send(build.draft(alice, [("sign", 1, bob), ("seal", 2, org)]))
    sign(envelope.recipients.get(role="sign"), bob)
    sign(envelope.recipients.get(role="seal"), charlie, seal=seal_of(org))
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    with pytest.raises(EnvelopeError):
        voiding_actions.do_request_void(envelope, "", actor=alice, meta=TASK)
    with pytest.raises(EnvelopeError):
        voiding_actions.do_request_void(envelope, "重复签署", actor=bob, meta=TASK)
    with TestCase.captureOnCommitCallbacks(execute=True):
        statement = voiding_actions.do_request_void(envelope, "重复签署", actor=alice, meta=TASK)
    assert statement.kind == Envelope.Kind.VOID_STATEMENT and statement.status == "in_progress"
    assert statement.documents.get().certified
    with pytest.raises(EnvelopeError):  # only one statement at a time
        voiding_actions.do_request_void(envelope, "again", actor=alice, meta=TASK)
    sign(statement.recipients.get(role="sign"), bob)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED  # not yet: the seal is missing
    sign(statement.recipients.get(role="seal"), charlie, seal=seal_of(org))
    envelope.refresh_from_db()
    statement.refresh_from_db()
    assert statement.status == Envelope.Status.COMPLETED
    assert envelope.status == Envelope.Status.VOIDED
    assert envelope.events.filter(action="voided").exists()
    _valid(statement.documents.get().current.read())


def test_audit_chain_reports_the_first_altered_row(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = _send(build.draft(alice, [("sign", 1, bob)]))
    sign(envelope.recipients.get(), bob)
    assert check_chain(envelope) is None
    out = io.StringIO()
    call_command("check_audit", stdout=out)
    assert "intact" in out.getvalue()
    events = list(envelope.events.order_by("seq"))
    target = events[3]
    AuditEvent.objects.filter(pk=target.pk).update(ip="10.0.0.66")  # bypasses save()
    broken = check_chain(envelope)
    assert broken is not None and broken.seq == target.seq
    with pytest.raises(CommandError):
        call_command("check_audit", envelope.number, stdout=io.StringIO())
    AuditEvent.objects.filter(pk=target.pk).update(ip=target.ip)
    AuditEvent.objects.filter(pk=events[1].pk).delete()
    broken = check_chain(envelope)
    assert broken is not None and broken.seq == 2
    with pytest.raises(ValueError):
        events[0].save()


def test_a_failed_completion_is_retried_by_the_timers(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = _send(build.draft(alice, [("sign", 1, bob)]))
    recipient = envelope.recipients.get()
    # The completion task never ran (a worker died): no on-commit callbacks executed.
    turns_actions.do_sign(
        recipient,
        turns.SignRequest(key="k", seen=seen(envelope), fields=all_fields(recipient)),
        pin="802461",
        actor=bob,
        meta=TASK,
    )
    envelope.refresh_from_db()
    assert envelope.status == "in_progress" and envelope.all_signed_at is not None
    Envelope.objects.filter(pk=envelope.pk).update(
        all_signed_at=timezone.now() - dt.timedelta(minutes=5)
    )
    assert tasks.run_timers()["completed"] == 1
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    assert not lifecycle.do_complete_envelope(envelope.pk, meta=TASK)  # idempotent


def test_a_cross_page_seal_declared_per_page_before_the_upgrade_still_signs(
    people: dict, seal_org: Any, build: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Documents sent before a cross-page seal became one signature carry one field per page:
    sealing them fills those fields, one slice each, and the result verifies."""
    alice, charlie = people["alice"], people["charlie"]
    org = seal_org(charlie, "厦门某某供应链有限公司")
    draft = build.draft(alice, [("seal", 1, org)], pages=2, fields=False)
    cross = _cross_page_field(draft, draft.recipients.get())

    def per_page_specs(document: Any, fields: Any) -> list[documents.FieldSpec]:
        slices = compose.cross_page_widgets(document, cross)
        return [
            documents.FieldSpec(name, page, rect)
            for name, (page, rect) in zip(cross.legacy_pdf_field_names(), slices, strict=True)
        ]

    monkeypatch.setattr(compose, "field_specs", per_page_specs)
    envelope = _send(draft)
    monkeypatch.undo()
    sign(envelope.recipients.get(), charlie, seal=seal_of(org))
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    report = _valid(envelope.documents.get().current.read())
    signed = {s.field_name for s in report.signatures}
    assert {f"QS-F{cross.pk}-P1", f"QS-F{cross.pk}-P2"} <= signed
