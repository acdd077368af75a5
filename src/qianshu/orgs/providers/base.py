"""The bank provider interface: the corporate transfers behind 对公打款认证.

Two questions, one per direction of the manual's 对公打款:

- ``pay_micro_deposit`` (平台给我打款): pay ``amount_fen`` (1–99 fen, chosen by the platform at
  random) from the platform's account to the organisation's declared account, with
  ``memo`` as the transfer note. The answer is the bank's transfer reference (:class:`Paid`), a
  refusal of the account (:class:`Refused`: wrong number, name not matching the account, closed
  account — the reason is shown to the user) or a :class:`BankError`.
- ``check_incoming`` (我给平台打款): has the platform's account received exactly
  ``amount_fen`` with ``reference`` in the memo, from an account named ``payer_name``? ``True``,
  ``False`` (not yet) or a :class:`BankError`.

Providers never raise for these outcomes; ``request_id`` identifies the verification (the same
on retries of one call) for idempotency and reconciliation.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass


@dataclass(frozen=True)
class BankAccount:
    """A corporate account declared by an organisation (validated locally before any call)."""

    bank_name: str
    account_name: str
    account_number: str


@dataclass(frozen=True)
class Paid:
    """The transfer was made; ``reference`` is the bank's transfer reference."""

    reference: str


@dataclass(frozen=True)
class Refused:
    """The bank refused the transfer to this account (the user should check the account)."""

    reason: str


@dataclass(frozen=True)
class BankError:
    """The call could not be made (provider down, timeout, refused request)."""

    reason: str
    retryable: bool = True


PayResult = Paid | Refused | BankError


class BankProvider(abc.ABC):
    """One implementation per bank connection (``sandbox``, ``http``)."""

    #: Short name, recorded in the organisation log.
    name: str = ""

    @abc.abstractmethod
    def pay_micro_deposit(
        self, account: BankAccount, amount_fen: int, *, memo: str, request_id: str
    ) -> PayResult:
        """Pay ``amount_fen`` to ``account`` (平台给我打款)."""

    @abc.abstractmethod
    def check_incoming(
        self, reference: str, amount_fen: int, *, payer_name: str, request_id: str
    ) -> bool | BankError:
        """Whether the platform account received ``amount_fen`` with memo ``reference`` from an
        account named ``payer_name`` (我给平台打款)."""
