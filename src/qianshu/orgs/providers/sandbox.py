"""Sandbox bank provider (沙箱): deterministic answers so 对公打款认证 runs without a bank.

Never use it in production: it "pays" nothing and "receives" whatever it is told. It is refused
when ``QIANSHU_DEBUG`` is off unless ``QIANSHU_BANK_SANDBOX_ALLOWED=1`` (system check
``qianshu.orgs.E001``, and ``BankUnavailable`` at run time).

Rules (the same every time, for tests and demonstrations):

===========================================  ==================================================
call                                         answer
===========================================  ==================================================
micro-deposit to an account number ending    refused: 账户信息有误，打款失败
``0000``
micro-deposit to an account number ending    retryable provider error
``9999``
any other micro-deposit                      paid; the amount is written to the sandbox ledger
incoming payment (我给平台打款)                 received once marked with :func:`mark_incoming`
                                             (the sandbox page's 模拟已打款 button, or a test)
                                             with the same amount and payer name; else not yet
===========================================  ==================================================

The ledger lives in the Django cache (``default``), kept 30 days: in development the web
process that made a transfer is the one that shows it. The sandbox page
``/orgs/<uuid>/verify/sandbox-bank/`` (沙箱, organisation administrators only) shows the
amounts paid to the organisation — what a real administrator reads on the bank statement — and
marks the payment to the platform as made.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.core.cache import cache
from django.utils.translation import gettext as _

from qianshu.orgs.providers.base import (
    BankAccount,
    BankError,
    BankProvider,
    Paid,
    PayResult,
    Refused,
)

REFUSED_SUFFIX = "0000"
ERROR_SUFFIX = "9999"
_PREFIX = "qianshu:bank-sandbox:"
_KEEP = 30 * 24 * 3600


def _key(kind: str, reference: str) -> str:
    return f"{_PREFIX}{kind}:{reference}"


class SandboxBankProvider(BankProvider):
    name = "sandbox"

    def pay_micro_deposit(
        self, account: BankAccount, amount_fen: int, *, memo: str, request_id: str
    ) -> PayResult:
        if account.account_number.endswith(REFUSED_SUFFIX):
            return Refused(_("账户信息有误，打款失败，请核对开户银行、账户名称和账号。"))
        if account.account_number.endswith(ERROR_SUFFIX):
            return BankError(_("银行打款服务暂时不可用，请稍后再试。"), retryable=True)
        reference = "SBX" + secrets.token_hex(8).upper()
        cache.set(
            _key("out", reference),
            {
                "amount_fen": amount_fen,
                "memo": memo,
                "bank_name": account.bank_name,
                "account_name": account.account_name,
                "account_tail": account.account_number[-4:],
                "request_id": request_id,
            },
            _KEEP,
        )
        return Paid(reference)

    def check_incoming(
        self, reference: str, amount_fen: int, *, payer_name: str, request_id: str
    ) -> bool | BankError:
        entry = cache.get(_key("in", reference))
        if not isinstance(entry, dict):
            return False
        return entry.get("amount_fen") == amount_fen and entry.get("payer_name") == payer_name


def micro_deposit(reference: str) -> dict[str, Any] | None:
    """What the sandbox paid under this transfer reference (amount in fen, memo, account tail):
    the sandbox's bank statement, for the sandbox page and tests."""
    entry = cache.get(_key("out", reference))
    return entry if isinstance(entry, dict) else None


def mark_incoming(reference: str, amount_fen: int, payer_name: str) -> None:
    """Record that the platform account received ``amount_fen`` with memo ``reference``."""
    cache.set(_key("in", reference), {"amount_fen": amount_fen, "payer_name": payer_name}, _KEEP)


def incoming(reference: str) -> dict[str, Any] | None:
    entry = cache.get(_key("in", reference))
    return entry if isinstance(entry, dict) else None
