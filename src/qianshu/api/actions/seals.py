"""API 用印 (契约锁's 静默签): an administrator grants one seal to one API key; the key then
seals its organisation's own seal steps without a person.

* :func:`do_grant_seal_to_key` — one active seal per key; an ordinary seal of the key's own
  organisation (never the legal representative's seal: that one is granted only with the legal
  representative's own approval, person to person). The view asks for a fresh
  re-authentication first, as for every grant. The grant is a ``SealGrant`` like a member's, so
  it shows on 印章授权 and its uses on 用印记录, naming the key.
* :func:`do_seal_step` — the key seals one step (``envelopes.actions.turns.do_seal_with_grant``
  checks everything again with the rows locked).
* :func:`do_seal_steps` — 批量用印: the key seals many steps in one call, each as
  :func:`do_seal_step` does in its own transaction (one refused step does not undo the
  others), spread over forked processes like 批量签署; the next signers' and the initiators'
  messages go out once per person for the whole call.
* Revoking the grant is the organisation's ordinary 撤销 (``do_revoke_grant``); revoking the key
  revokes its grant too (:func:`revoke_key_grants`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.api.errors import NotFound
from qianshu.api.models import ApiKey
from qianshu.core.meta import RequestMeta
from qianshu.envelopes import routing
from qianshu.envelopes.actions.batch import run_steps
from qianshu.envelopes.actions.turns import do_seal_with_grant, submitted_before
from qianshu.envelopes.confirmations import Confirmation
from qianshu.envelopes.errors import EnvelopeError, SealNotAllowed
from qianshu.envelopes.models import Recipient
from qianshu.envelopes.turns import SignOutcome
from qianshu.orgs.actions.grants import do_revoke_grant
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.grants import MAX_GRANT_DAYS, GrantError, grant_detail
from qianshu.orgs.models import OrgAction, Seal, SealGrant
from qianshu.orgs.people import key_label
from qianshu.pki.platform import load_platform

log = logging.getLogger(__name__)


def key_grant(key: ApiKey) -> SealGrant | None:
    """The key's active seal grant (at most one), with its seal."""
    return (
        SealGrant.objects.filter(api_key=key, status=SealGrant.Status.ACTIVE)
        .select_related("seal", "api_key")
        .first()
    )


def do_grant_seal_to_key(
    key: ApiKey,
    seal: Seal,
    *,
    valid_until: dt.datetime,
    note: str = "",
    actor: User,
    meta: RequestMeta,
) -> SealGrant:
    """Grant ``seal`` to ``key`` from now until ``valid_until``. Raises :class:`GrantError`:
    another organisation's seal or key, a seal not in use, the legal representative's seal, a
    revoked key, a key that holds a seal already, a period in the past or over 5 years."""
    now = timezone.now()
    if seal.org_id != key.org_id or not seal.is_usable:
        raise GrantError(_("只能授权本组织启用中的印章。"))
    if seal.kind == Seal.Kind.LEGAL_REP:
        raise GrantError(
            _("法定代表人章只能由法定代表人本人同意后授权给成员，不能授权给 API 密钥。")
        )
    if valid_until <= now:
        raise GrantError(_("截止时间必须晚于当前时间。"))
    if valid_until - now > dt.timedelta(days=MAX_GRANT_DAYS):
        raise GrantError(_("授权期限最长 5 年。"))
    with transaction.atomic():
        locked_key = ApiKey.objects.select_for_update().get(pk=key.pk)
        locked_seal = Seal.objects.select_for_update().select_related("org").get(pk=seal.pk)
        if not locked_key.is_active:
            raise GrantError(_("该 API 密钥已吊销。"))
        if not locked_seal.is_usable or not locked_seal.org.is_verified:
            raise GrantError(_("只能授权本组织启用中的印章。"))
        held = key_grant(locked_key)
        if held is not None:
            raise GrantError(
                _("该 API 密钥已获得“%(seal)s”的授权；一个密钥只能授权一枚印章，请先撤销。")
                % {"seal": held.seal.name}
            )
        grant = SealGrant.objects.create(
            seal=locked_seal,
            api_key=locked_key,
            granted_by=actor,
            valid_from=now,
            valid_until=valid_until,
            note=" ".join(note.split())[:200],
        )
        record_org_event(
            locked_seal.org, OrgAction.SEAL_GRANTED, actor=actor, meta=meta, **grant_detail(grant)
        )
    return grant


def revoke_key_grants(key: ApiKey, *, actor: User, meta: RequestMeta) -> None:
    """Revoke the seal grants of ``key`` (inside the transaction that revokes the key), as
    撤销 on the grants page does."""
    for grant in SealGrant.objects.filter(api_key=key, status=SealGrant.Status.ACTIVE):
        do_revoke_grant(grant, actor=actor, meta=meta)


def _held_grant(key: ApiKey) -> SealGrant:
    grant = key_grant(key)
    if grant is None:
        raise SealNotAllowed(_("该 API 密钥没有获得印章授权，请组织管理员在“开放平台”中授权。"))
    return grant


def do_seal_step(
    key: ApiKey, recipient: Recipient, *, submission: str, meta: RequestMeta
) -> SignOutcome:
    """The key seals ``recipient`` (a seal step of an envelope of its organisation) with its
    granted seal. Raises ``SealNotAllowed`` when the key holds no grant, and the envelope
    errors of :func:`do_seal_with_grant`."""
    grant = _held_grant(key)
    return do_seal_with_grant(recipient, grant, key=submission, agent=key_label(grant), meta=meta)


@dataclass(frozen=True)
class StepResult:
    """What became of one step of :func:`do_seal_steps`: sealed (or sealed before by the same
    submission: ``repeated``), or refused with the code and message of the refusal."""

    ok: bool
    repeated: bool = False
    code: str = ""
    detail: str = ""


def do_seal_steps(
    key: ApiKey,
    steps: Sequence[Recipient | None],
    *,
    submissions: Sequence[str],
    meta: RequestMeta,
) -> list[StepResult]:
    """批量用印: the key seals each of ``steps`` (``None``: a step the caller named that is
    not one of its organisation's; refused as not found) with its granted seal, each in its own
    transaction, as :func:`do_seal_step` — ``submissions[i]`` is step ``i``'s idempotency key.
    Returns one result per step, in order. Raises ``SealNotAllowed`` before anything is sealed
    when the key holds no grant. Each step is checked again with its rows locked (the grant
    may be revoked halfway: the steps after it are refused)."""
    grant = _held_grant(key)
    agent = key_label(grant)
    # Once for the call, as 批量签署's prepare_steps: the platform's keys, and the seal's
    # signer (kept by the confirmation from one step to the next).
    platform, confirmation = load_platform(), Confirmation(0, "api_key")
    submitted = submitted_before(
        [(step, submissions[i]) for i, step in enumerate(steps) if step is not None]
    )

    def seal(index: int) -> tuple[StepResult, list[routing.Notice]]:
        recipient = steps[index]
        if recipient is None:
            missing = NotFound()
            return StepResult(False, code=missing.code, detail=missing.message), []
        try:
            with routing.collecting_notices() as notices:
                outcome = do_seal_with_grant(
                    recipient,
                    grant,
                    key=submissions[index],
                    agent=agent,
                    platform=platform,
                    confirmation=confirmation,
                    submitted=submitted,
                    meta=meta,
                )
        except EnvelopeError as exc:
            return StepResult(False, code=exc.code, detail=str(exc)), []
        except Exception:  # one broken step must not stop the others
            log.exception("API batch sealing of recipient %s failed", recipient.pk)
            return StepResult(False, code="internal_error", detail=_("用印失败，请稍后重试。")), []
        return StepResult(True, repeated=outcome.repeated), notices

    lost = StepResult(False, code="internal_error", detail=_("用印失败，请稍后重试。"))
    return run_steps(len(steps), seal, lost)
