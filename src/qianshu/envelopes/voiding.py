"""作废: a completed envelope is voided only by a void statement that all its parties sign.

The statement is an envelope of its own (kind ``void_statement``): a generated PDF naming the
original task and the hashes of its signed documents, with a signing area per party, sent to
the same people and organisations in the same order. When it completes, the original becomes
``voided`` and shows under 已作废 with the statement attached.
"""

from __future__ import annotations

from qianshu.accounts.models import User
from qianshu.envelopes.models import Envelope, Recipient

STATEMENT_DAYS = 30
Role = Recipient.Role


def can_request_void(envelope: Envelope, actor: User) -> bool:
    return (
        envelope.kind == Envelope.Kind.STANDARD
        and envelope.status == Envelope.Status.COMPLETED
        and envelope.initiator_id == actor.pk
        and not envelope.void_statements.filter(status=Envelope.Status.IN_PROGRESS).exists()
    )
