"""The envelope core end to end: draft → send → sign (PIN) → seal (grant) → B-LTA + report."""

from __future__ import annotations

from typing import Any

import pytest

from qianshu.core.meta import TASK
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.audit import check_chain
from qianshu.envelopes.errors import EnvelopeError, NotYourTurn
from qianshu.envelopes.models import Envelope, Recipient, Revision
from qianshu.notifications.models import OutboxMessage
from qianshu.orgs.models import SealUsage
from qianshu.pki.platform import load_platform
from qianshu.signing.verify import verify_pdf
from tests.envelopes.helpers import sign
from tests.support.personas import seal_of

pytestmark = pytest.mark.django_db


def _verify(data: bytes) -> Any:
    return verify_pdf(data, load_platform().trust())


def test_sign_then_seal_completes_as_b_lta(people: dict, seal_org: Any, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = seal_org(charlie, "厦门某某供应链有限公司")
    envelope = build.draft(alice, [("sign", 1, bob), ("seal", 2, org)])
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.IN_PROGRESS
    first, second = envelope.recipients.order_by("routing_order")
    assert (first.status, second.status) == ("pending", "waiting")
    assert OutboxMessage.objects.filter(recipient=bob.phone, kind="envelope_sign_request").exists()
    document = envelope.documents.get()
    assert document.certified and document.revision == 1

    # Not charlie's turn yet.
    with pytest.raises(NotYourTurn):
        sign(second, charlie, seal=seal_of(org))
    sign(first, bob)
    second.refresh_from_db()
    assert second.status == "pending"
    sign(second, charlie, seal=seal_of(org))

    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    document.refresh_from_db()
    assert document.finished
    report = _verify(document.current.read())
    assert report.verdict == "valid", report.reason
    assert all(s.intact and s.trusted for s in report.signatures)
    assert [r.action for r in Revision.objects.filter(document=document)] == [
        "uploaded",
        "prepared",
        "signed",
        "signed",
        "finished",
    ]
    assert envelope.report is not None
    assert _verify(envelope.report.read()).verdict == "valid"
    assert check_chain(envelope) is None
    usage = SealUsage.objects.get()
    assert usage.reference == envelope.number and usage.user == charlie
    assert Recipient.objects.get(pk=second.pk).org == org


def test_wrong_pin_signs_nothing(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = build.draft(alice, [("sign", 1, bob)])
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    recipient = envelope.recipients.get()
    with pytest.raises(EnvelopeError):
        sign(recipient, bob, pin="111111")
    recipient.refresh_from_db()
    assert recipient.status == "pending"
    assert envelope.documents.get().revision == 1


def test_same_idempotency_key_signs_once(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = build.draft(alice, [("sign", 1, bob), ("sign", 2, alice)])
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    recipient = envelope.recipients.get(routing_order=1)
    first = sign(recipient, bob, key="k1")
    again = sign(recipient, bob, key="k1")
    assert not first.repeated and again.repeated
    assert envelope.documents.get().revision == 2
