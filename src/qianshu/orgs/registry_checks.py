"""What must hold before an organisation counts as verified without an operator.

DESIGN §3, "An organisation is who it says it is". Whatever the method (法定代表人认证, either
direction of 对公打款), its own proof only shows that someone controls a legal
representative's identity or a corporate account. The organisation is verified without an
operator only when also:

1. **企业三要素** — the business registry (``qianshu.orgs.providers.registry``) confirmed the
   organisation's name, unified social credit code and legal representative, for exactly the
   data the organisation holds now (the data checked are kept on the attempt);
2. **no verified organisation has the same name** (names compared by
   :func:`qianshu.orgs.names.fold_name`): a second "示例科技有限公司" is for an operator to
   judge, with both organisations and their credit codes in front of them, and the existing
   organisation's administrators are told (``org_same_name`` SMS, ``same_name_claimed`` event);
3. it is **not overseas** (港澳台及海外组织 have no credit code a registry could check).

Otherwise the attempt, with its proof, waits for an operator (人工审核). :func:`review_reasons`
says why; the verification actions (``qianshu.orgs.actions.verification``) act on it.

The registry is asked when an attempt starts
(:func:`qianshu.orgs.actions.registry.run_registry_check`, outside any transaction: it is a
network call). A pass for the same data in the last
:data:`REGISTRY_PASS_LIFE` is reused; at most ``QIANSHU_ORG_REGISTRY_CHECKS_PER_DAY`` calls per
organisation and day are made (each is a paid query and a ``registry_checked`` event).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from qianshu.orgs.models import Organization, OrgVerification
from qianshu.orgs.names import fold_name

log = logging.getLogger(__name__)

Registry = OrgVerification.Registry

REGISTRY_PASS_LIFE = dt.timedelta(days=30)
# SMS to one organisation's administrators about same-name claims, per 24 hours.
SAME_NAME_ALERTS_PER_DAY = 3

# Why an attempt waits for an operator (``review_reasons``).
REGISTRY = "registry"
SAME_NAME = "same_name"
OVERSEAS = "overseas"


@dataclass(frozen=True)
class RegistryOutcome:
    """The registry's answer about an organisation's data, as kept on an attempt."""

    result: str
    reason: str = ""
    provider: str = ""
    checked: dict[str, str] = field(default_factory=dict)
    checked_at: dt.datetime | None = None

    @property
    def passed(self) -> bool:
        return self.result == Registry.PASSED

    def apply(self, verification: OrgVerification) -> list[str]:
        """Copy onto ``verification`` (not saved); the names of the fields set."""
        verification.registry_result = self.result
        verification.registry_reason = self.reason[:300]
        verification.registry_provider = self.provider
        verification.registry_checked = self.checked
        verification.registry_checked_at = self.checked_at
        return [
            "registry_result",
            "registry_reason",
            "registry_provider",
            "registry_checked",
            "registry_checked_at",
        ]


def declared(org: Organization) -> dict[str, str]:
    """The organisation's data a registry check is about."""
    return {
        "name": org.name,
        "credit_code": org.credit_code,
        "legal_rep_name": org.legal_rep_name,
    }


def same_name_orgs(org: Organization) -> QuerySet[Organization]:
    """Verified organisations other than ``org`` whose name is ``org``'s name."""
    return (
        Organization.objects.filter(
            name_key=fold_name(org.name), status=Organization.Status.VERIFIED
        )
        .exclude(pk=org.pk)
        .order_by("verified_at", "pk")
    )


def lock_name(org: Organization) -> None:
    """Serialise, until the end of the transaction, every verification of organisations with
    ``org``'s name, so two of them finishing at once cannot both find no verified namesake.

    PostgreSQL: a transaction-level advisory lock on the folded name (taken after the
    organisation's row lock, the only other lock held, so no cycle). SQLite serialises writing
    transactions by itself.
    """
    if connection.vendor != "postgresql":
        return
    digest = hashlib.sha256(b"qianshu:org-name:" + fold_name(org.name).encode()).digest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)]
        )


def review_reasons(org: Organization, verification: OrgVerification) -> list[str]:
    """Why ``verification`` cannot verify ``org`` without an operator (empty: it can)."""
    reasons = []
    if org.is_overseas:
        reasons.append(OVERSEAS)
    elif verification.registry_result != Registry.PASSED:
        reasons.append(REGISTRY)
    elif verification.registry_checked != declared(org):
        reasons.append(REGISTRY)  # the check was about other data (defensive: edits cancel)
    if same_name_orgs(org).exists():
        reasons.append(SAME_NAME)
    return reasons


def review_message(reasons: list[str]) -> str:
    """Why the organisation waits for an operator, for its administrator."""
    if SAME_NAME in reasons:
        return _("平台上已有同名的已认证组织，需由平台工作人员人工审核。")
    if OVERSEAS in reasons:
        return _("港澳台及海外组织需由平台工作人员人工审核。")
    return _("工商登记信息尚未核验通过，需由平台工作人员人工审核。")
