"""A signing step's new revision is written to the blob store alongside its statements
(``storage.actions.stored_alongside``): when the store fails, the signer is told to try again,
nothing of the step is committed — no revision naming a missing blob, no audit event, no
submission, no turn passed on — and the same step signs once the store is back."""

from __future__ import annotations

import pytest
from django.test import TestCase

from qianshu.core.meta import TASK
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import AuditEvent, Envelope, Recipient, Revision, Submission
from qianshu.storage.blobs import get_blob_store
from qianshu.storage.errors import BlobStoreError
from qianshu.storage.models import Blob
from tests.envelopes.helpers import Builder, client_for, sign, submit_over_http

pytestmark = pytest.mark.django_db


def _sent(build: Builder, people: dict) -> Envelope:
    draft = build.draft(people["alice"], [("sign", 1, people["bob"]), ("sign", 2, people["alice"])])
    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(draft, actor=people["alice"], meta=TASK)
    draft.refresh_from_db()
    return draft


def _state(envelope: Envelope) -> tuple:
    envelope.refresh_from_db()
    document = envelope.documents.get()
    return (
        document.revision,
        document.current_id,
        envelope.audit_count,
        envelope.audit_head,
        AuditEvent.objects.filter(envelope=envelope).count(),
        Revision.objects.filter(document=document).count(),
        Submission.objects.count(),
        Blob.objects.count(),
        sorted(envelope.recipients.values_list("routing_order", "status")),
    )


def test_a_failing_store_commits_nothing_and_the_step_signs_afterwards(
    build: Builder, people: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = _sent(build, people)
    bob = envelope.recipients.get(routing_order=1)
    before = _state(envelope)
    store = get_blob_store()
    put = store.put

    def broken(data: bytes) -> str:
        raise BlobStoreError("the disk is full")

    monkeypatch.setattr(store, "put", broken)
    with pytest.raises(EnvelopeError, match="签署失败，请稍后重试"):
        sign(bob, people["bob"])
    assert _state(envelope) == before
    # Through the signing page: a message to try again, not a server error.
    response = submit_over_http(client_for(people["bob"]), bob)
    assert response.status_code == 400
    assert "签署失败，请稍后重试" in response.json()["message"]
    assert _state(envelope) == before

    monkeypatch.setattr(store, "put", put)
    outcome = sign(bob, people["bob"])
    document = envelope.documents.get()
    assert document.revision == before[0] + 1
    assert store.get(document.current_id) == outcome.documents[0].current.read()
    bob.refresh_from_db()
    assert bob.status == Recipient.Status.DONE
