"""``POST /envelopes/seal-batch``: 批量用印 — the key seals many of its organisation's seal
steps in one call, with the seal an administrator granted it (the single step is
``POST /envelopes/{id}/recipients/{rid}/seal``). Each step is sealed in its own transaction
and checked again with its rows locked; a step the key cannot reach (another organisation's,
or none) is refused as not found, like every other answer of the API."""

from __future__ import annotations

import hashlib
import uuid

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router

from qianshu.api.actions import envelopes as actions
from qianshu.api.actions.seals import do_seal_steps
from qianshu.api.auth import api_meta, caller, charge
from qianshu.api.models import ApiKey, Scope
from qianshu.api.schemas import (
    MAX_SEAL_BATCH,
    Problem,
    SealBatchIn,
    SealBatchOut,
    SealStepOut,
)
from qianshu.envelopes.models import Envelope, Recipient

router = Router(tags=["envelopes"])


def _canonical(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _steps(key: ApiKey, named: list[tuple[str | None, int]]) -> list[Recipient | None]:
    """The named steps — (envelope uuid, canonical or None when malformed; recipient id) —
    that are in envelopes the key's organisation sent (one query), in order; ``None`` for any
    other."""
    found = {
        (str(row.envelope.uuid), row.pk): row
        for row in Recipient.objects.filter(
            envelope__uuid__in=list({envelope for envelope, _rid in named if envelope}),
            envelope__initiator_org=key.org,
            envelope__kind=Envelope.Kind.STANDARD,
            pk__in=[recipient for _envelope, recipient in named],
        ).select_related("envelope")
    }
    return [found.get((envelope, rid)) if envelope else None for envelope, rid in named]


def _submission(idempotency_key: str, step: tuple[str | None, int]) -> str:
    """A step's idempotency key: made from the call's ``Idempotency-Key``, so that the call
    sent again after a failure seals none of its steps twice; without one, a new key."""
    if not idempotency_key:
        return f"api-{uuid.uuid4().hex}"
    text = f"{idempotency_key}\n{step[0]}\n{step[1]}"
    return "api-" + hashlib.sha256(text.encode()).hexdigest()[:60]


@router.post(
    "/envelopes/seal-batch",
    response={200: SealBatchOut, 400: Problem, 403: Problem, 429: Problem},
    summary="批量用印: seal many of the organisation's seal steps with the key's seal",
    description=(
        f"Up to {MAX_SEAL_BATCH} steps, each sealed as by the single seal call, in its own "
        "transaction: the answer lists every step in order, sealed (`ok`) or refused with the "
        "`code` and `detail` a single call would have answered (`not_found`, "
        "`not_your_turn`, `seal_not_allowed`, …). Each step counts as a call against the "
        "key's per-minute limit (429 `rate_limited` when they do not fit; nothing is sealed). "
        "403 `seal_not_allowed` when the key holds "
        "no seal grant (nothing is sealed). Send an `Idempotency-Key`: the same call sent "
        "again returns the first answer, and after a failure halfway seals none of its steps "
        "twice (`repeated`). The next signers and the initiator get one message each for "
        "the whole call."
    ),
)
def seal_batch(request: HttpRequest, body: SealBatchIn) -> SealBatchOut:
    key = caller(request, Scope.ENVELOPES_WRITE)
    named = [(_canonical(s.envelope_id), s.recipient_id) for s in body.steps]
    written = [(e or s.envelope_id, r) for (e, r), s in zip(named, body.steps, strict=True)]
    if len(set(written)) != len(written):
        raise actions.BadEnvelope(_("同一盖章环节提交了两次。"), field="steps")
    charge(key, len(named) - 1)  # each step counts as a call against the key's limit
    steps = _steps(key, named)
    idempotency_key = request.headers.get("Idempotency-Key", "")
    results = do_seal_steps(
        key,
        steps,
        submissions=[_submission(idempotency_key, step) for step in named],
        meta=api_meta(request),
    )
    statuses = dict(
        Envelope.objects.filter(pk__in={s.envelope_id for s in steps if s is not None}).values_list(
            "pk", "status"
        )
    )
    out = [
        SealStepOut(
            envelope_id=step.envelope_id,
            recipient_id=step.recipient_id,
            ok=result.ok,
            repeated=result.repeated,
            code=result.code or None,
            detail=result.detail or None,
            status=statuses.get(found.envelope_id) if found is not None else None,
        )
        for step, found, result in zip(body.steps, steps, results, strict=True)
    ]
    sealed = sum(1 for r in results if r.ok)
    return SealBatchOut(sealed=sealed, refused=len(results) - sealed, results=out)
