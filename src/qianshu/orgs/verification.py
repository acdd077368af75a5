"""组织机构认证: creating an organisation and verifying it — the refusals and the read helpers.

Methods (the manual's words): （推荐）法定代表人认证 — an SMS link the legal representative opens,
logged in as a verified person of that name (``actions.legal_rep``) —, and 对公打款认证 in both
directions (``actions.deposits``): 平台给我打款 (the platform pays a random 0.01–0.99 元 that the
administrator types back, 3 tries per transfer) and 我给平台打款 (the organisation pays a shown
amount with a memo code; the bank provider or an operator confirms receipt). An administrator
can also send the organisation to manual review (``actions.review``).

A method's proof alone never verifies an organisation (``registry_checks``): the business
registry is asked when an attempt starts — a mismatch ends it at once —, and when the proof is
in, ``finish_verification`` verifies the organisation only if the registry confirmed its data
and no verified organisation has its name; otherwise the attempt waits, with its proof, for an
operator. ``mark_verified`` refuses anything else unless an operator decides.

The shared steps (start an attempt, finish it, mark the organisation verified, send it to an
operator, re-ask the registry), creating and editing an organisation are in
:mod:`qianshu.orgs.actions.verification`; every state change writes its organisation-log event
in its transaction.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from qianshu.accounts.models import User
from qianshu.core.errors import UserError
from qianshu.identity.access import verified_identity
from qianshu.orgs.models import Organization, OrgVerification
from qianshu.orgs.names import same_name

Method = Organization.Method
OrgStatus = Organization.Status
Status = OrgVerification.Status
Registry = OrgVerification.Registry
Evidence = OrgVerification.Evidence

MAX_REASON_LENGTH = 200
# An attempt still open: its method is under way (pending) or an operator must decide (review).
OPEN = (Status.PENDING, Status.REVIEW)


# --- Refusals (``str(exc)`` is a message for the user) ---


class OrgError(UserError):
    code = "org_refused"


class NotVerifiedPerson(OrgError):
    code = "person_not_verified"
    default_message = gettext_noop("请先完成个人实名认证，再创建组织。")


class PrivacyConsentMissing(OrgError):
    code = "privacy_consent_missing"
    default_message = gettext_noop("请阅读并同意《隐私保护协议》。")


class CreditCodeTaken(OrgError):
    code = "credit_code_taken"
    field = "credit_code"
    default_message = gettext_noop(
        "该统一社会信用代码已有组织完成认证，如需加入请联系该组织的管理员。"
    )


class OrgAlreadyVerified(OrgError):
    code = "org_already_verified"
    default_message = gettext_noop("该组织已完成认证，无需重复认证。")


class VerificationNotActive(OrgError):
    code = "org_verification_not_active"
    default_message = gettext_noop("本次认证已结束或已失效，请重新发起认证。")


class TooManyTransfers(OrgError):
    code = "too_many_transfers"
    default_message = gettext_noop("今日申请打款次数已用完，请明天再试或选择其他认证方式。")


class TooManyMessages(OrgError):
    code = "too_many_messages"
    default_message = gettext_noop("今日发送授权短信次数已用完，请明天再试。")


class TooManyChecks(OrgError):
    code = "too_many_checks"
    default_message = gettext_noop("查询过于频繁，请稍后再试。")


class NotLegalRep(OrgError):
    code = "not_legal_rep"
    default_message = gettext_noop("您的实名认证姓名与该组织登记的法定代表人不一致，无法进行授权。")


class PlatformAccountMissing(OrgError):
    code = "platform_account_missing"
    default_message = gettext_noop("平台收款账户尚未配置，请选择其他认证方式。")


class OrgReviewAlreadyDecided(OrgError):
    code = "org_review_already_decided"
    default_message = gettext_noop("该组织的认证已由其他运营人员处理，或已不在待审核状态。")


class BankFailed(OrgError):
    """The bank refused the transfer or could not be reached (message from the provider)."""

    code = "bank_failed"


class WrongAmount(OrgError):
    code = "wrong_amount"
    field = "amount"

    def __init__(self, remaining: int) -> None:
        self.remaining = remaining
        super().__init__(_("金额不正确，还可以尝试 %(count)s 次。") % {"count": remaining})


class TransferVoid(OrgError):
    code = "transfer_void"
    default_message = gettext_noop("金额错误次数过多，本次打款已失效，请重新申请打款。")


class RegistryMismatch(OrgError):
    """The business registry says the declared data are wrong (its reason for the user)."""

    code = "registry_mismatch"

    def __init__(self, reason: str) -> None:
        super().__init__(_("工商登记信息核验未通过：%(reason)s") % {"reason": reason})


class NeedsOperator(OrgError):
    """Guard of ``actions.verification.mark_verified``: only an operator may verify this
    organisation now."""

    code = "needs_operator"
    default_message = gettext_noop("该组织需经平台人工审核后才能完成认证。")


class NothingToRecheck(OrgError):
    code = "nothing_to_recheck"
    default_message = gettext_noop("当前没有需要重新核验工商登记信息的认证。")


# --- Helpers ---


def is_legal_rep(actor: User, org: Organization) -> bool:
    """Whether ``actor`` is a verified person whose verified name is the declared legal rep."""
    identity = verified_identity(actor)
    return identity is not None and same_name(identity.name, org.legal_rep_name)


def pending_verification(org: Organization) -> OrgVerification | None:
    """The organisation's verification in progress, if any (at most one is pending)."""
    return org.verifications.filter(status=Status.PENDING).order_by("-created_at").first()


def open_verification(org: Organization) -> OrgVerification | None:
    """The attempt in progress or waiting for an operator, if any (at most one is open)."""
    return org.verifications.filter(status__in=OPEN).order_by("-created_at").first()


def is_expired(verification: OrgVerification) -> bool:
    return verification.expires_at is not None and verification.expires_at <= timezone.now()


def clean_reason(reason: str) -> str:
    return " ".join(reason.split())[:MAX_REASON_LENGTH]


def check_credit_code_free(credit_code: str, *, exclude: Organization | None = None) -> None:
    """Raise ``CreditCodeTaken`` if a verified organisation already holds ``credit_code``."""
    if not credit_code:
        return
    others = Organization.objects.filter(credit_code=credit_code, status=OrgStatus.VERIFIED)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise CreditCodeTaken()
