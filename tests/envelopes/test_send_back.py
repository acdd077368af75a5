"""退回: a signer sends an envelope back to its initiator, who edits it and sends it again.

Signatures on documents that did not change stay (and verify in the final PDF); a document
whose fields changed, or that was replaced, loses them and its signers sign again.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from typing import Any

import pytest
from django.test import TestCase
from django.urls import reverse

from qianshu.core.meta import TASK
from qianshu.envelopes import compose, returns, turns
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import lifecycle
from qianshu.envelopes.actions import returns as returns_actions
from qianshu.envelopes.actions import turns as turns_actions
from qianshu.envelopes.audit import check_chain
from qianshu.envelopes.errors import DocumentChanged, EnvelopeError, NotYourTurn
from qianshu.envelopes.models import AuditEvent, Envelope, Field, Recipient, Revision
from qianshu.envelopes.reports import _event
from qianshu.notifications.models import OutboxMessage
from qianshu.pki.platform import load_platform
from qianshu.signing.samples import make_test_pdf
from qianshu.signing.stamps import Rect
from qianshu.signing.verify import verify_pdf
from tests.envelopes.helpers import client_for, field, next_phone, sign
from tests.support.personas import PIN, make_signer

pytestmark = pytest.mark.django_db

Status = Envelope.Status


def _verify(data: bytes) -> Any:
    return verify_pdf(data, load_platform().trust())


def _send(envelope: Envelope, actor: Any) -> Envelope:
    """发起签署 as the send page does it: a returned envelope is resent."""
    envelope.refresh_from_db()
    send = (
        returns_actions.do_resend_envelope
        if envelope.is_returned()
        else compose_actions.do_send_envelope
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        send(envelope, actor=actor, meta=TASK)
    envelope.refresh_from_db()
    return envelope


def _recipient(envelope: Envelope, order: int) -> Recipient:
    return envelope.recipients.get(routing_order=order)


def _send_back(recipient: Recipient, actor: Any, reason: str = "第三条金额有误") -> None:
    recipient.refresh_from_db()
    returns_actions.do_send_back(recipient, reason, actor=actor, meta=TASK)


def _resave_fields(envelope: Envelope, move: Field | None = None) -> None:
    """Save every field again as the editor does (optionally moving one 10 points right)."""
    items = []
    for f in Field.objects.filter(envelope=envelope).order_by("id"):
        dx = 10 if move is not None and f.pk == move.pk else 0
        items.append(
            compose.FieldInput(
                recipient_id=f.recipient_id,
                document_id=f.document_id,
                kind=f.kind,
                page=f.page,
                rect=Rect(f.x1 + dx, f.y1, f.x2 + dx, f.y2),
                pages=tuple(f.pages),
                label=f.label,
                value=f.value,
            )
        )
    compose_actions.do_set_fields(envelope, items, actor=envelope.initiator)


def _kinds(to: str) -> set[str]:
    return set(OutboxMessage.objects.filter(recipient=to).values_list("kind", flat=True))


def _complete_and_verify(envelope: Envelope) -> list[Any]:
    envelope.refresh_from_db()
    assert envelope.status == Status.COMPLETED
    reports = []
    for document in envelope.documents.all():
        report = _verify(document.current.read())
        assert report.verdict == "valid", report.reason
        assert all(s.intact and s.trusted for s in report.signatures)
        reports.append(report)
    assert check_chain(envelope) is None
    return reports


# --- the flow ------------------------------------------------------------------------------


def test_unchanged_documents_keep_their_signatures(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelope = _send(build.draft(alice, [("sign", 1, bob), ("sign", 2, charlie)]), alice)
    sign(_recipient(envelope, 1), bob)
    document = envelope.documents.get()
    document.refresh_from_db()
    bob_revision = document.current.read()

    _send_back(_recipient(envelope, 2), charlie)
    envelope.refresh_from_db()
    assert envelope.status == Status.RETURNED and envelope.end_reason == "第三条金额有误"
    returner = _recipient(envelope, 2)
    assert returner.status == Recipient.Status.RETURNED and returner.reason == "第三条金额有误"
    event = envelope.events.get(action="returned")
    assert (event.actor_id, event.recipient_id) == (charlie.pk, returner.pk)
    assert event.detail["reason"] == "第三条金额有误"
    shown = _event(event)
    assert shown.action == "退回" and "第三条金额有误" in shown.detail  # the evidence report
    assert "envelope_returned" in _kinds(alice.phone)
    assert "envelope_returned_party" in _kinds(bob.phone)

    # The initiator saves the editor unchanged (fields keep their rows) and resends.
    _resave_fields(envelope)
    envelope.refresh_from_db()
    plan = returns.resend_plan(envelope)
    assert [d.pk for d in plan.kept] == [document.pk] and not plan.reset and not plan.new
    assert [r.pk for r in plan.stay_done] == [_recipient(envelope, 1).pk]
    _send(envelope, alice)
    assert envelope.status == Status.IN_PROGRESS and envelope.return_snapshot == {}
    assert _recipient(envelope, 1).status == Recipient.Status.DONE
    assert _recipient(envelope, 2).status == Recipient.Status.PENDING
    assert "envelope_resent_kept" in _kinds(bob.phone)
    assert envelope.events.filter(action="resent").exists()

    sign(_recipient(envelope, 2), charlie)
    (report,) = _complete_and_verify(envelope)
    # The evidence report (签署报告) lists the return with its reason.
    assert envelope.report is not None
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-", "-"], input=envelope.report.read(), capture_output=True, check=True
        ).stdout.decode()
        assert "退回" in text and "第三条金额有误" in text and "重新发起" in text
    document.refresh_from_db()
    final = document.current.read()
    assert final.startswith(bob_revision)  # bob's signature is the one he made
    people_signatures = [s for s in report.signatures if s.field_name.startswith("QS-F")]
    assert len(people_signatures) == 4  # bob and charlie: signature + date each
    assert list(Revision.objects.filter(document=document).values_list("action", flat=True)) == [
        "uploaded",
        "prepared",
        "signed",
        "signed",
        "finished",
    ]


def test_changed_fields_reset_that_document_only(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    draft = build.draft(alice, [("sign", 1, bob), ("sign", 2, charlie)], documents=2)
    envelope = _send(draft, alice)
    sign(_recipient(envelope, 1), bob)
    first, second = envelope.documents.order_by("position")
    first.refresh_from_db()
    second.refresh_from_db()
    first_signed, second_signed = first.current.read(), second.current.read()
    old_second_sha = second.current_id
    _send_back(_recipient(envelope, 2), charlie)

    # Move charlie's signature on the second document.
    moved = Field.objects.get(document=second, recipient=_recipient(envelope, 2), kind="signature")
    _resave_fields(envelope, move=moved)
    envelope.refresh_from_db()
    plan = returns.resend_plan(envelope)
    assert [d.pk for d in plan.kept] == [first.pk]
    assert [d.pk for d in plan.reset] == [second.pk]
    assert plan.lose == {_recipient(envelope, 1).pk: [second.name]}
    _send(envelope, alice)

    bob_row = _recipient(envelope, 1)
    assert bob_row.status == Recipient.Status.PENDING  # signs the second document again
    assert "envelope_resign" in _kinds(bob.phone)
    resign = OutboxMessage.objects.filter(recipient=bob.phone, kind="envelope_resign").get()
    assert second.name in resign.body
    # His fields on the first document stay filled; only the second one's are asked for.
    assert set(
        bob_row.fields.filter(filled_at__isnull=True).values_list("document", flat=True)
    ) == {second.pk}
    assert returns.lost_documents(bob_row) == [second]
    page = client_for(bob).get(reverse("envelopes:sign", args=[envelope.uuid])).content.decode()
    assert 'data-testid="sign-lost"' in page and second.name in page

    # A submission against the hash he saw before the document was prepared again: refused.
    stale = turns.SignRequest(
        key=uuid.uuid4().hex,
        seen={first.pk: first.current_id, second.pk: old_second_sha},
        fields=[
            turns.StagedField(field_id=f.pk) for f in bob_row.fields.filter(filled_at__isnull=True)
        ],
    )
    with pytest.raises(DocumentChanged):
        turns_actions.do_sign(bob_row, stale, pin=PIN, actor=bob, meta=TASK)

    bob_row.refresh_from_db()
    request = turns.SignRequest(
        key=uuid.uuid4().hex,
        seen={d.pk: d.current_id for d in envelope.documents.all()},
        fields=[
            turns.StagedField(field_id=f.pk) for f in bob_row.fields.filter(filled_at__isnull=True)
        ],
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        turns_actions.do_sign(bob_row, request, pin=PIN, actor=bob, meta=TASK)
    sign(_recipient(envelope, 2), charlie)
    _complete_and_verify(envelope)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.current.read().startswith(first_signed)  # kept
    final_second = second.current.read()
    assert not final_second.startswith(second_signed)  # bob's old signature is not carried over
    actions = list(Revision.objects.filter(document=second).values_list("action", flat=True))
    assert actions == ["uploaded", "prepared", "signed", "prepared", "signed", "signed", "finished"]
    prepared_again = Revision.objects.filter(document=second, action="prepared").last()
    assert prepared_again is not None
    assert final_second.startswith(prepared_again.blob.read())
    report = _verify(final_second)
    # One platform preparation and bob's + charlie's four signatures: the old ones are gone.
    assert len([s for s in report.signatures if s.field_name.startswith("QS-F")]) == 4


def test_a_replaced_document_is_signed_again(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelope = _send(build.draft(alice, [("sign", 1, bob), ("sign", 2, charlie)]), alice)
    sign(_recipient(envelope, 1), bob)
    old = envelope.documents.get()
    _send_back(_recipient(envelope, 2), charlie)

    compose_actions.do_remove_document(old, actor=alice)
    new = compose_actions.do_add_document(
        envelope, make_test_pdf(pages=2), "合同（修订）.pdf", actor=alice, meta=TASK
    )
    bob_row, charlie_row = _recipient(envelope, 1), _recipient(envelope, 2)
    compose_actions.do_set_fields(
        envelope,
        [
            field(new, bob_row, "signature", 1, (40, 40, 160, 88)),
            field(new, charlie_row, "signature", 1, (220, 40, 340, 88)),
        ],
        actor=alice,
    )
    envelope.refresh_from_db()
    plan = returns.resend_plan(envelope)
    assert [d.pk for d in plan.new] == [new.pk] and plan.removed == [old.name]
    _send(envelope, alice)
    assert _recipient(envelope, 1).status == Recipient.Status.PENDING
    assert "envelope_resign" in _kinds(bob.phone)
    sign(_recipient(envelope, 1), bob)
    sign(_recipient(envelope, 2), charlie)
    (report,) = _complete_and_verify(envelope)
    assert len([s for s in report.signatures if s.field_name.startswith("QS-F")]) == 2
    assert envelope.events.filter(action="created", detail__step="document_removed").exists()


def test_a_signed_party_changed_by_the_initiator_signs_again(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelope = _send(build.draft(alice, [("sign", 1, bob), ("sign", 2, charlie)]), alice)
    sign(_recipient(envelope, 1), bob)
    _send_back(_recipient(envelope, 2), charlie)
    dave = make_signer("dave", next_phone(), real_name="丁大卫")
    rows = [
        compose.RecipientInput(
            role="sign",
            routing_order=r.routing_order,
            name=(dave.person_identity.name if r.routing_order == 1 else r.name),  # type: ignore[attr-defined]
            phone=dave.phone if r.routing_order == 1 else r.phone,
            id=r.pk,
        )
        for r in envelope.recipients.order_by("routing_order")
    ]
    compose_actions.do_set_recipients(envelope, rows, actor=alice)
    first = _recipient(envelope, 1)
    assert first.user_id is None  # bob's account no longer acts as this party
    envelope.refresh_from_db()
    plan = returns.resend_plan(envelope)
    assert plan.reset and not plan.stay_done
    _send(envelope, alice)
    first.refresh_from_db()
    assert first.status == Recipient.Status.PENDING
    with pytest.raises(EnvelopeError):  # bob is neither the party's account nor its name
        sign(first, bob)
    sign(first, dave)
    sign(_recipient(envelope, 2), charlie)
    _complete_and_verify(envelope)


# --- who may, and when ---------------------------------------------------------------------


def test_only_the_current_signer_may_send_back(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    dave = make_signer("dave", next_phone(), real_name="丁大卫")
    envelope = _send(
        build.draft(alice, [("sign", 1, bob), ("sign", 2, charlie), ("cc", 3, dave)]), alice
    )
    bob_row, charlie_row, cc_row = (_recipient(envelope, n) for n in (1, 2, 3))
    for row, actor in (
        (charlie_row, charlie),
        (cc_row, dave),
        (bob_row, charlie),
        (bob_row, alice),
    ):
        with pytest.raises(NotYourTurn):
            returns_actions.do_send_back(row, "不对", actor=actor, meta=TASK)
    with pytest.raises(EnvelopeError, match="请填写退回原因"):
        returns_actions.do_send_back(bob_row, "   ", actor=bob, meta=TASK)
    envelope.refresh_from_db()
    assert (
        envelope.status == Status.IN_PROGRESS
        and not envelope.events.filter(action="returned").exists()
    )

    # Over HTTP: not bob's turn for the others (404), nothing changes.
    url = reverse("envelopes:send-back", args=[envelope.uuid])
    for user in (alice, charlie, dave):
        assert client_for(user).post(url, {"reason": "不对"}).status_code == 404
    response = client_for(bob).post(url, {"reason": ""})
    assert response.status_code == 400 and "请填写退回原因" in response.content.decode()
    assert _recipient(envelope, 1).status == Recipient.Status.PENDING

    response = client_for(bob).post(url, {"reason": "金额有误"}, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302
    event = envelope.events.get(action="returned")
    assert (event.ip, event.actor_id, event.detail["reason"]) == ("203.0.113.9", bob.pk, "金额有误")
    # Not twice, and nobody signs a returned envelope.
    with pytest.raises(NotYourTurn):
        returns_actions.do_send_back(_recipient(envelope, 1), "再退一次", actor=bob, meta=TASK)
    assert client_for(bob).post(url, {"reason": "再退一次"}).status_code == 404
    with pytest.raises(NotYourTurn):
        sign(_recipient(envelope, 1), bob)


def test_a_parallel_co_signer_cannot_sign_a_returned_envelope(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelope = _send(build.draft(alice, [("sign", 1, bob), ("sign", 1, charlie)]), alice)
    bob_row = envelope.recipients.get(phone=bob.phone)
    charlie_row = envelope.recipients.get(phone=charlie.phone)
    _send_back(charlie_row, charlie)
    with pytest.raises(NotYourTurn):
        sign(bob_row, bob)
    assert not Revision.objects.filter(action="signed").exists()


def test_not_after_completion_or_void(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = _send(build.draft(alice, [("sign", 1, bob)]), alice)
    row = _recipient(envelope, 1)
    sign(row, bob)
    envelope.refresh_from_db()
    assert envelope.status == Status.COMPLETED
    with pytest.raises(NotYourTurn):
        returns_actions.do_send_back(row, "晚了", actor=bob, meta=TASK)
    recalled = _send(build.draft(alice, [("sign", 1, bob)]), alice)
    lifecycle.do_recall(recalled, actor=alice, meta=TASK)
    with pytest.raises(NotYourTurn):
        returns_actions.do_send_back(_recipient(recalled, 1), "晚了", actor=bob, meta=TASK)


def test_only_the_initiator_edits_and_resends(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelope = _send(build.draft(alice, [("sign", 1, bob), ("sign", 2, charlie)]), alice)
    _send_back(_recipient(envelope, 1), bob)
    for user in (bob, charlie):
        with pytest.raises(EnvelopeError):
            returns_actions.do_resend_envelope(envelope, actor=user, meta=TASK)
        client = client_for(user)
        for name in ("edit", "fields", "send"):
            url = reverse(f"envelopes:{name}", args=[envelope.uuid])
            assert client.get(url).status_code == 404, name
            assert client.post(url, {}).status_code == 404, name
    # The initiator may: the editor opens, but a returned envelope is not deleted as a draft.
    client = client_for(alice)
    for name in ("edit", "fields", "send"):
        response = client.get(reverse(f"envelopes:{name}", args=[envelope.uuid]))
        assert response.status_code == 200, name
        assert "该任务已被退回" in response.content.decode()
    with pytest.raises(EnvelopeError):
        compose_actions.do_delete_draft(envelope, actor=alice)
    # Resending twice: the second is refused.
    _send(envelope, alice)
    with pytest.raises(EnvelopeError):
        returns_actions.do_resend_envelope(envelope, actor=alice, meta=TASK)
    # An in-progress envelope cannot be edited.
    with pytest.raises(EnvelopeError):
        compose_actions.do_set_fields(envelope, [], actor=alice)


def test_the_initiator_may_recall_a_returned_envelope(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = _send(build.draft(alice, [("sign", 1, bob)]), alice)
    _send_back(_recipient(envelope, 1), bob)
    lifecycle.do_recall(envelope, reason="不再签署", actor=alice, meta=TASK)
    envelope.refresh_from_db()
    assert envelope.status == Status.RECALLED
    with pytest.raises(EnvelopeError):
        returns_actions.do_resend_envelope(envelope, actor=alice, meta=TASK)


# --- pages ---------------------------------------------------------------------------------


def test_pages_show_the_returned_state(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelope = _send(build.draft(alice, [("sign", 1, bob), ("sign", 2, charlie)]), alice)
    sign_page = client_for(bob).get(reverse("envelopes:sign", args=[envelope.uuid]))
    assert 'data-testid="sign-send-back"' in sign_page.content.decode()
    _send_back(_recipient(envelope, 1), bob, reason="签署方信息有误")

    detail = client_for(alice).get(envelope.get_absolute_url()).content.decode()
    assert 'data-testid="returned-note"' in detail and "签署方信息有误" in detail
    assert 'data-testid="edit-returned"' in detail
    detail = client_for(bob).get(envelope.get_absolute_url()).content.decode()
    assert 'data-testid="returned-note"' in detail and 'data-testid="edit-returned"' not in detail

    listing = client_for(alice).get(reverse("envelopes:list") + "?tab=others").content.decode()
    assert envelope.title in listing and "已退回" in listing
    filtered = client_for(alice).get(reverse("envelopes:list") + "?tab=others&status=returned")
    assert envelope.title in filtered.content.decode()

    send_page = client_for(alice).get(reverse("envelopes:send", args=[envelope.uuid]))
    html = send_page.content.decode()
    assert 'data-testid="resend-plan"' in html and "重新发起" in html
    response = client_for(alice).post(reverse("envelopes:send", args=[envelope.uuid]))
    assert response.status_code == 302
    envelope.refresh_from_db()
    assert envelope.status == Status.IN_PROGRESS
    assert AuditEvent.objects.filter(envelope=envelope, action="resent").count() == 1
