"""对公打款认证, both directions as the manual describes: the state changes.

平台给我打款: the bank provider pays a random 0.01–0.99 元 to the declared account; only a keyed
HMAC of the amount is stored, the account number encrypted. The administrator types the amount
back: 3 wrong tries void the transfer and a new one must be requested (a few per day).

我给平台打款: the organisation pays the platform's account (settings) a shown amount with a
unique memo code; the bank provider confirms receipt when the administrator clicks 我已打款 (or
later), or an operator confirms it in the back office.

The amounts, account helpers and limits are in :mod:`qianshu.orgs.verification_deposits`.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts import throttles
from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.identity import crypto
from qianshu.orgs.actions.verification import (
    failed_attempt,
    finish_verification,
    lock_org,
    lock_pending,
    registry_gate,
    start_verification,
)
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.models import OrgAction, Organization, OrgVerification
from qianshu.orgs.providers import BankAccount, BankError, Paid, get_bank_provider
from qianshu.orgs.verification import (
    BankFailed,
    OrgAlreadyVerified,
    PlatformAccountMissing,
    TooManyChecks,
    TooManyTransfers,
    TransferVoid,
    VerificationNotActive,
    WrongAmount,
    is_expired,
)
from qianshu.orgs.verification_deposits import (
    DEPOSIT_LIFE,
    DEPOSIT_TRIES,
    MEMO_ALPHABET,
    MICRO_DEPOSIT_MEMO,
    amount_hmac,
    mask_account,
    platform_account,
)

Method = Organization.Method
OrgStatus = Organization.Status
Status = OrgVerification.Status
Evidence = OrgVerification.Evidence


def do_request_micro_deposit(
    org: Organization, account: BankAccount, *, actor: User, meta: RequestMeta
) -> OrgVerification:
    """Ask the bank provider to pay a random 0.01–0.99 元 to the declared account.

    Raises ``TooManyTransfers`` beyond the daily limit, ``RegistryMismatch`` when the business
    registry says the organisation's data are wrong (nothing is paid then), ``BankFailed`` when
    the bank refuses the account or cannot be reached (the failed transfer is recorded and
    counts), and ``BankUnavailable`` when the provider is misconfigured.
    """
    if org.is_verified:
        raise OrgAlreadyVerified()
    since = timezone.now() - dt.timedelta(days=1)
    transfers = org.verifications.filter(method=Method.DEPOSIT_TO_ORG, created_at__gte=since)
    if transfers.count() >= settings.QIANSHU_ORG_DEPOSITS_PER_DAY:
        raise TooManyTransfers()
    provider = get_bank_provider()
    registry = registry_gate(org, Method.DEPOSIT_TO_ORG, actor=actor, meta=meta)
    verification_uuid = uuid.uuid4()
    amount = 1 + secrets.randbelow(99)
    result = provider.pay_micro_deposit(
        account, amount, memo=MICRO_DEPOSIT_MEMO, request_id=str(verification_uuid)
    )
    fields: dict[str, object] = {
        "uuid": verification_uuid,
        "bank_name": account.bank_name,
        "account_name": account.account_name,
        "account_number_encrypted": crypto.encrypt(
            account.account_number, user_id=org.pk, purpose="org-bank-account"
        ),
        "account_number_masked": mask_account(account.account_number),
    }
    with transaction.atomic():
        org = lock_org(org)
        if isinstance(result, Paid):
            verification = start_verification(
                org,
                Method.DEPOSIT_TO_ORG,
                registry=registry,
                actor=actor,
                meta=meta,
                amount_hmac=amount_hmac(verification_uuid, amount),
                provider_ref=result.reference,
                expires_at=timezone.now() + DEPOSIT_LIFE,
                **fields,
            )
            record_org_event(
                org,
                OrgAction.DEPOSIT_PAID,
                actor=actor,
                meta=meta,
                provider=provider.name,
                bank_name=account.bank_name,
                account=verification.account_number_masked,
                verification=str(verification.uuid),
            )
            return verification
        verification = failed_attempt(
            org, Method.DEPOSIT_TO_ORG, result.reason, registry=registry, actor=actor, **fields
        )
        record_org_event(
            org,
            OrgAction.DEPOSIT_FAILED,
            actor=actor,
            meta=meta,
            provider=provider.name,
            reason=result.reason,
            error=isinstance(result, BankError),
            account=verification.account_number_masked,
            verification=str(verification.uuid),
        )
    raise BankFailed(result.reason)


def do_confirm_micro_deposit(
    verification: OrgVerification,
    amount_fen: int,
    *,
    actor: User,
    meta: RequestMeta,
) -> OrgVerification:
    """Check the amount the administrator read on the statement: right → verified (or, see
    ``finish_verification``, an operator's review); wrong → ``WrongAmount`` (tries left) and, at
    the third wrong amount, ``TransferVoid``."""
    with transaction.atomic():
        verification = lock_pending(verification, Method.DEPOSIT_TO_ORG)
        org = lock_org(verification.org)
        expected = verification.amount_hmac
        if hmac.compare_digest(expected, amount_hmac(verification.uuid, amount_fen)):
            record_org_event(
                org,
                OrgAction.DEPOSIT_CONFIRMED,
                actor=actor,
                meta=meta,
                verification=str(verification.uuid),
            )
            finish_verification(
                org,
                verification,
                evidence=Evidence.DEPOSIT_CONFIRMED,
                actor=actor,
                meta=meta,
            )
            return verification
        verification.tries += 1
        remaining = DEPOSIT_TRIES - verification.tries
        if remaining <= 0:
            verification.status = Status.EXPIRED
            verification.reason = _("金额错误次数过多，本次打款已失效")
            verification.decided_at = timezone.now()
            org.status = OrgStatus.DRAFT
            org.save(update_fields=["status"])
        verification.save(update_fields=["tries", "status", "reason", "decided_at"])
        record_org_event(
            org,
            OrgAction.DEPOSIT_AMOUNT_WRONG if remaining > 0 else OrgAction.DEPOSIT_VOID,
            actor=actor,
            meta=meta,
            tries=verification.tries,
            verification=str(verification.uuid),
        )
    if remaining <= 0:
        raise TransferVoid()
    raise WrongAmount(remaining)


def _memo_code() -> str:
    while True:
        code = "QS" + "".join(secrets.choice(MEMO_ALPHABET) for _ in range(6))
        if not OrgVerification.objects.filter(reference_code=code).exists():
            return code


def do_request_platform_deposit(
    org: Organization, *, actor: User, meta: RequestMeta
) -> OrgVerification:
    """Give the organisation an amount (0.01–0.99 元) and a memo code to pay the platform's
    account with; the organisation appears in the operators' queue until it is confirmed."""
    if platform_account() is None:
        raise PlatformAccountMissing()
    registry = registry_gate(org, Method.DEPOSIT_TO_PLATFORM, actor=actor, meta=meta)
    with transaction.atomic():
        org = lock_org(org)
        verification = start_verification(
            org,
            Method.DEPOSIT_TO_PLATFORM,
            registry=registry,
            actor=actor,
            meta=meta,
            amount_fen=1 + secrets.randbelow(99),
            reference_code=_memo_code(),
            expires_at=timezone.now() + DEPOSIT_LIFE,
        )
        record_org_event(
            org,
            OrgAction.PLATFORM_DEPOSIT_REQUESTED,
            actor=actor,
            meta=meta,
            amount_fen=verification.amount_fen,
            reference=verification.reference_code,
            verification=str(verification.uuid),
        )
    return verification


def do_check_platform_deposit(
    verification: OrgVerification, *, actor: User, meta: RequestMeta
) -> bool:
    """我已打款: ask the bank provider whether the payment arrived; True when it did (then the
    organisation is verified, or waits for an operator: see ``finish_verification``). Raises
    ``BankFailed`` if the bank cannot answer."""
    if verification.status != Status.PENDING or is_expired(verification):
        raise VerificationNotActive()
    if not throttles.hit(f"org-incoming-check:{verification.pk}", limit=20, window=3600):
        raise TooManyChecks()
    provider = get_bank_provider()
    org = verification.org
    received = provider.check_incoming(
        verification.reference_code,
        verification.amount_fen or 0,
        payer_name=org.name,
        request_id=str(verification.uuid),
    )
    with transaction.atomic():
        if isinstance(received, BankError) or not received:
            record_org_event(
                org,
                OrgAction.PLATFORM_DEPOSIT_CHECKED,
                actor=actor,
                meta=meta,
                provider=provider.name,
                received=False,
                error=received.reason if isinstance(received, BankError) else "",
                verification=str(verification.uuid),
            )
        else:
            verification = lock_pending(verification, Method.DEPOSIT_TO_PLATFORM)
            org = lock_org(verification.org)
            record_org_event(
                org,
                OrgAction.PLATFORM_DEPOSIT_RECEIVED,
                actor=actor,
                meta=meta,
                provider=provider.name,
                verification=str(verification.uuid),
            )
            finish_verification(
                org,
                verification,
                evidence=Evidence.PLATFORM_DEPOSIT_RECEIVED,
                actor=actor,
                meta=meta,
            )
    if isinstance(received, BankError):
        raise BankFailed(received.reason)
    return received
