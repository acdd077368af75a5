"""Seal recipients bound to an organisation (DESIGN.md §3: seal steps, visibility and grants
follow the organisation's id, never its name).

A seal recipient (企业盖章) names its organisation in one of two ways when it is composed:

* **a verified organisation the initiator chose** (search by name or credit code): the
  recipient is bound at once — ``Recipient.org`` is set, with that organisation's name and
  credit code copied for display;
* **name + unified social credit code** (GB 32100, check digit validated) of an organisation
  that is not verified on the platform yet: the recipient stays unbound. Typing the name and
  code of an organisation that *is* verified binds it as if it had been chosen; a code that
  belongs to a verified organisation of another name is refused.

An unbound recipient becomes bound when an organisation verifies with the same credit code and
the same name (compared as :func:`qianshu.orgs.names.same_name` folds them):
:func:`bind_verified_org` receives ``qianshu.orgs.signals.org_verified`` inside the
verification's transaction (the organisation row locked), binds the matching recipients of
draft and in-progress envelopes, and writes an audit event on each envelope. A recipient with
that credit code but another name is left unbound — a credit code alone never hands an
envelope to an organisation that calls itself something else — and the initiator is told.

Until it is bound nobody can see the envelope through the recipient, seal it or be told it is
theirs (:mod:`qianshu.envelopes.access` looks at ``Recipient.org`` only).
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from qianshu.envelopes import audit, routing
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import Envelope, Recipient
from qianshu.orgs.models import Organization
from qianshu.orgs.names import same_name
from qianshu.signing.pki import validate_credit_code

log = logging.getLogger(__name__)

Role = Recipient.Role
CODE_CHARS = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
SEARCH_MIN_CHARS = 2
SEARCH_MAX_RESULTS = 10
# Envelopes whose unbound recipients a verification may still bind (the others have ended).
OPEN_STATUSES = (Envelope.Status.DRAFT, Envelope.Status.IN_PROGRESS, Envelope.Status.RETURNED)


@dataclass(frozen=True)
class SealParty:
    """Who a seal recipient is: the organisation it is bound to (or None), and the name and
    credit code it shows."""

    org: Organization | None
    name: str
    credit_code: str


def normalise_code(value: str) -> str:
    return "".join(str(value or "").split()).upper()


def credit_code_problem(code: str) -> str:
    """Why ``code`` is not a unified social credit code ("" when it is one)."""
    if not code:
        return _("请输入统一社会信用代码。")
    if len(code) != 18:
        return _("统一社会信用代码应为 18 位，您输入了 %(count)s 位。") % {"count": len(code)}
    if not CODE_CHARS.fullmatch(code):
        return _("统一社会信用代码只包含数字和大写字母（不含 I、O、Z、S、V），请核对。")
    if not validate_credit_code(code):
        return _("统一社会信用代码校验位不正确，请核对。")
    return ""


def verified_orgs() -> QuerySet[Organization]:
    return Organization.objects.filter(status=Organization.Status.VERIFIED)


def chosen_org(org_uuid: str) -> Organization:
    """The verified organisation the initiator chose in the search, or :class:`EnvelopeError`."""
    try:
        value = uuid.UUID(str(org_uuid))
    except ValueError:
        value = None
    org = verified_orgs().filter(uuid=value).first() if value else None
    if org is None:
        raise EnvelopeError(_("所选组织不存在或尚未完成组织认证，请重新搜索选择。"))
    return org


def resolve_seal_party(name: str, credit_code: str, org_uuid: str = "") -> SealParty:
    """Who a composed seal recipient is (see the module docstring); :class:`EnvelopeError` with
    a message for the initiator when it cannot be used."""
    if org_uuid:
        org = chosen_org(org_uuid)
        return SealParty(org, org.name, org.credit_code)
    name = " ".join(str(name or "").split())
    code = normalise_code(credit_code)
    problem = credit_code_problem(code)
    if problem:
        raise EnvelopeError(problem)
    holder = verified_orgs().filter(credit_code=code).first()
    if holder is None:
        return SealParty(None, name, code)
    if not same_name(holder.name, name):
        raise EnvelopeError(
            _(
                "统一社会信用代码 %(code)s 属于已认证的组织“%(org)s”，与填写的名称“%(name)s”"
                "不一致。请核对名称，或搜索并选择该组织。"
            )
            % {"code": code, "org": holder.name, "name": name}
        )
    return SealParty(holder, holder.name, holder.credit_code)


def search_verified_orgs(text: str) -> list[Organization]:
    """The compose page's organisation search: an exact credit code, or names containing
    ``text`` — verified organisations only, at most ``SEARCH_MAX_RESULTS``."""
    text = " ".join(str(text or "").split())[:100]
    if len(text) < SEARCH_MIN_CHARS:
        return []
    code = normalise_code(text)
    condition = Q(name__icontains=text)
    if len(code) == 18:
        condition |= Q(credit_code=code)
    return list(verified_orgs().filter(condition).order_by("name", "id")[:SEARCH_MAX_RESULTS])


# --- when an organisation verifies ------------------------------------------------------------


def bind_verified_org(sender: Any, org: Organization, **kwargs: Any) -> None:
    """Receiver of ``org_verified``: bind the unbound seal recipients that named ``org`` by its
    credit code and name (draft and in-progress envelopes), in the verification's transaction.
    Lock order: the organisation (the caller), then each envelope, then its recipients."""
    if not org.credit_code:
        return
    envelope_ids = (
        Recipient.objects.filter(
            role=Role.SEAL,
            org__isnull=True,
            org_credit_code=org.credit_code,
            envelope__status__in=OPEN_STATUSES,
        )
        .order_by("envelope_id")
        .values_list("envelope_id", flat=True)
        .distinct()
    )
    for envelope_id in list(envelope_ids):
        envelope = (
            Envelope.objects.select_for_update(of=("self",))
            .select_related("initiator")
            .filter(pk=envelope_id, status__in=OPEN_STATUSES)
            .first()
        )
        if envelope is not None:
            _bind_in(envelope, org)


def _bind_in(envelope: Envelope, org: Organization) -> None:
    recipients = envelope.recipients.select_for_update().filter(
        role=Role.SEAL, org__isnull=True, org_credit_code=org.credit_code
    )
    for recipient in recipients.order_by("routing_order", "id"):
        bound = same_name(recipient.name, org.name)
        if bound:
            recipient.org = org
            recipient.save(update_fields=["org"])
        audit.record(
            envelope,
            "org_bound" if bound else "org_not_bound",
            recipient=recipient,
            org=str(org.uuid),
            org_name=org.name,
            credit_code=org.credit_code,
            named=recipient.name,
        )
        if not bound:
            _tell_initiator(envelope, recipient, org)


def _tell_initiator(envelope: Envelope, recipient: Recipient, org: Organization) -> None:
    log.info(
        "seal recipient %s of %s not bound to %s: the names differ",
        recipient.pk,
        envelope.number,
        org.pk,
    )
    routing.notify_initiator(
        envelope,
        "envelope_org_mismatch",
        {"name": recipient.name, "code": org.credit_code, "org": org.name},
    )
