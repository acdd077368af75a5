"""The sending allowance under real concurrency (PostgreSQL): parallel sends in one
organisation's name never pass its 24-hour allowance, and the allowance lock is not held while
the platform signs a document (sends in one organisation's name — 批量发起 by two task workers —
certify in parallel and only their bookkeeping goes one after the other).

Also, without PostgreSQL: a document prepared before the locks is stored only if the draft
did not change meanwhile."""

from __future__ import annotations

import hashlib
import io
import threading
from typing import Any

import pikepdf
import pytest
from django.db import connection

from qianshu.core.meta import TASK
from qianshu.envelopes import compose
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.models import Envelope
from qianshu.envelopes.placement import FieldInput
from qianshu.envelopes.sending import SendLimitReached
from qianshu.orgs.models import Membership
from qianshu.pki.actions import do_init_pki
from qianshu.signing.stamps import Rect
from tests.envelopes.helpers import Builder
from tests.support.personas import make_signer, make_verified_org


def _org_drafts(count: int) -> tuple[Any, list[tuple[Any, Envelope]]]:
    do_init_pki(name="测试平台")
    alice = make_signer("alice", "13800000001", real_name="王爱丽")
    bob = make_signer("bob", "13800000002", real_name="李博文")
    carol = make_signer("carol", "13800000003", real_name="陈可乐")
    org = make_verified_org(alice, name="人事处测试大学")
    Membership.objects.create(org=org, user=bob)
    drafts = []
    for i in range(count):
        sender = (alice, bob)[i % 2]
        drafts.append((sender, Builder().draft(sender, [("sign", 1, carol)], pages=1, org=org)))
    return org, drafts


@pytest.mark.parametrize("limit", [1, 3])
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_sends_in_an_organisations_name_never_pass_its_allowance(
    settings: Any, limit: int
) -> None:
    """Two members send six drafts in the organisation's name at once: exactly ``limit`` go."""
    settings.QIANSHU_SEND_PER_ORG_DAY = limit
    settings.QIANSHU_SEND_PER_USER_DAY = 100
    _org, drafts = _org_drafts(6)
    barrier = threading.Barrier(len(drafts))
    outcomes: list[str] = []

    def run(sender: Any, envelope: Envelope) -> None:
        try:
            barrier.wait(timeout=30)
            compose_actions.do_send_envelope(envelope, actor=sender, meta=TASK)
            outcomes.append("sent")
        except SendLimitReached:
            outcomes.append("refused")
        except BaseException as exc:  # anything else fails the test below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert sorted(outcomes) == ["refused"] * (6 - limit) + ["sent"] * limit, outcomes
    statuses = sorted(Envelope.objects.values_list("status", flat=True))
    assert statuses == ["draft"] * (6 - limit) + ["in_progress"] * limit
    for envelope in Envelope.objects.filter(status="in_progress"):
        assert envelope.documents.get().revision == 1  # prepared once
        assert [e.action for e in envelope.events.order_by("seq")][-3:] == [
            "sent",
            "sent",
            "notified",
        ]
    for envelope in Envelope.objects.filter(status="draft"):
        assert envelope.documents.get().revision == 0 and envelope.sent_at is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_allowance_lock_is_not_held_while_a_document_is_certified(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While one send in the organisation's name is certifying its document, another send in
    the same name goes through (before, it waited for the first to commit)."""
    _org, [(alice, first), (bob, second)] = _org_drafts(2)
    certifying, release = threading.Event(), threading.Event()
    real = compose_actions._prepared_bytes

    def slow_for_the_first(envelope: Envelope, *args: Any) -> bytes:
        if envelope.pk == first.pk:
            certifying.set()
            assert release.wait(timeout=60)
        return real(envelope, *args)

    monkeypatch.setattr(compose_actions, "_prepared_bytes", slow_for_the_first)
    errors: list[BaseException] = []

    def send_first() -> None:
        try:
            compose_actions.do_send_envelope(first, actor=alice, meta=TASK)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=send_first)
    thread.start()
    try:
        assert certifying.wait(timeout=60)
        done = threading.Event()

        def send_second() -> None:
            try:
                compose_actions.do_send_envelope(second, actor=bob, meta=TASK)
                done.set()
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        other = threading.Thread(target=send_second)
        other.start()
        other.join(timeout=60)
        assert done.is_set(), errors  # sent while the first was still certifying
    finally:
        release.set()
        thread.join(timeout=120)
    assert not errors, errors
    assert set(Envelope.objects.values_list("status", flat=True)) == {"in_progress"}


# --- preparing ahead -----------------------------------------------------------------------------


def _declared(envelope: Envelope) -> dict[str, list[int]]:
    """The recipients' signature fields the stored document declares: name and rectangle."""
    data = envelope.documents.get().current.read()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return {
            str(f.T): [round(float(v)) for v in f.Rect]
            for f in pdf.Root.AcroForm.Fields
            if f.get("/FT") == "/Sig" and str(f.T) != "QS-Certification"
        }


@pytest.fixture
def pki(db: None) -> None:
    do_init_pki(name="测试平台")


def test_a_document_prepared_ahead_is_the_one_stored(
    pki: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = make_signer("alice", "13800000001", real_name="王爱丽")
    bob = make_signer("bob", "13800000002", real_name="李博文")
    draft = Builder().draft(alice, [("sign", 1, bob)], pages=1)
    made: list[bytes] = []
    real = compose_actions._prepare_ahead

    def keep(envelope: Envelope, actor: Any) -> Any:
        ahead = real(envelope, actor)
        made.extend(p.data for p in ahead.values())
        return ahead

    monkeypatch.setattr(compose_actions, "_prepare_ahead", keep)
    compose_actions.do_send_envelope(draft, actor=alice, meta=TASK)
    document = draft.documents.get()
    assert len(made) == 1
    assert document.current_id == hashlib.sha256(made[0]).hexdigest()
    assert document.certified


def test_a_draft_changed_after_preparing_ahead_is_prepared_again(
    pki: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A field moved between the preparation and the locks: the stored document declares the
    field where it is now."""
    alice = make_signer("alice", "13800000001", real_name="王爱丽")
    bob = make_signer("bob", "13800000002", real_name="李博文")
    draft = Builder().draft(alice, [("sign", 1, bob)], pages=1)
    real = compose_actions._prepare_ahead
    made: list[bytes] = []

    def then_move_the_field(envelope: Envelope, actor: Any) -> Any:
        ahead = real(envelope, actor)
        made.extend(p.data for p in ahead.values())
        items = [
            FieldInput(
                recipient_id=f.recipient_id,
                document_id=f.document_id,
                kind=f.kind,
                page=f.page,
                rect=Rect(100, 100, 220, 148)
                if f.kind == "signature"
                else Rect(f.x1, f.y1, f.x2, f.y2),
            )
            for f in envelope.fields.order_by("id")
        ]
        compose_actions.do_set_fields(envelope, items, actor=alice)
        return ahead

    monkeypatch.setattr(compose_actions, "_prepare_ahead", then_move_the_field)
    compose_actions.do_send_envelope(draft, actor=alice, meta=TASK)
    document = draft.documents.get()
    assert len(made) == 1 and document.current_id != hashlib.sha256(made[0]).hexdigest()
    moved = draft.fields.get(kind="signature")
    assert (moved.x1, moved.y1) == (100, 100)
    specs = compose.field_specs(document, draft.fields.order_by("id"))
    assert _declared(draft) == {
        spec.name: [round(v) for v in (spec.rect.x1, spec.rect.y1, spec.rect.x2, spec.rect.y2)]
        for spec in specs
    }
    assert [100, 100, 220, 148] in _declared(draft).values()
