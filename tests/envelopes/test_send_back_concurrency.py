"""退回 racing a co-signer's signature (PostgreSQL, real row locks): whichever wins, nothing is
signed in a returned envelope and no signature is lost."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from qianshu.core.meta import TASK
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import returns as returns_actions
from qianshu.envelopes.errors import NotYourTurn
from qianshu.envelopes.models import AuditEvent, Envelope, Recipient, Revision
from qianshu.pki.actions import do_init_pki
from tests.envelopes.helpers import Builder, sign
from tests.support.personas import make_signer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(alice: Any, bob: Any, charlie: Any) -> tuple[Envelope, dict[str, Any]]:
    """bob signs and charlie (his parallel co-signer) sends back, at the same moment."""
    envelope = Builder().draft(alice, [("sign", 1, bob), ("sign", 1, charlie)], pages=1)
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    rows = {r.phone: r for r in envelope.recipients.all()}
    barrier = threading.Barrier(2)
    outcome: dict[str, Any] = {}

    def run(name: str, action: Any) -> None:
        try:
            barrier.wait(timeout=30)
            action()
            outcome[name] = "ok"
        except NotYourTurn:
            outcome[name] = "refused"
        except BaseException as exc:  # anything else fails the test
            outcome[name] = exc
        finally:
            connection.close()

    def back() -> None:
        returns_actions.do_send_back(rows[charlie.phone], "金额有误", actor=charlie, meta=TASK)

    threads = [
        threading.Thread(target=run, args=("sign", lambda: sign(rows[bob.phone], bob))),
        threading.Thread(target=run, args=("back", back)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    envelope.refresh_from_db()
    return envelope, outcome


def test_send_back_and_a_parallel_signature_serialise() -> None:
    do_init_pki(name="测试平台")
    alice, bob, charlie = (
        make_signer(name, f"1372000{i:04d}", real_name=real)
        for i, (name, real) in enumerate(
            [("alice", "王爱丽"), ("bob", "李博文"), ("charlie", "陈查理")]
        )
    )
    for _round in range(3):
        envelope, outcome = _race(alice, bob, charlie)
        assert outcome["back"] == "ok", outcome  # charlie's turn stays until he acts
        assert outcome["sign"] in ("ok", "refused"), outcome
        assert envelope.status == Envelope.Status.RETURNED
        bob_row = envelope.recipients.get(phone=bob.phone)
        signed = Revision.objects.filter(document__envelope=envelope, action="signed").count()
        if outcome["sign"] == "ok":
            assert bob_row.status == Recipient.Status.DONE and signed == 1
        else:
            assert bob_row.status != Recipient.Status.DONE and signed == 0
        # No signature recorded after the return.
        events = list(AuditEvent.objects.filter(envelope=envelope).order_by("seq"))
        returned_at = next(e.seq for e in events if e.action == "returned")
        assert not [e for e in events if e.action == "signed" and e.seq > returned_at]
