"""The business-registry provider interface: 企业三要素核验 behind organisation verification.

One question: does the national enterprise credit registry (国家企业信用信息公示系统, through a
licensed data provider) know an organisation with exactly this name and this unified social
credit code, whose legal representative has this name, and is it in business? The declared
data have been validated locally before (GB 32100 check character, name lengths).

Every answer is one of three typed results: :class:`Passed`, :class:`Failed` (the registry
says otherwise; ``reason`` is shown to the user, ``code`` says which part: :data:`NOT_FOUND`,
:data:`NAME_DIFFERS`, :data:`LEGAL_REP_DIFFERS`, :data:`NOT_ACTIVE`) or :class:`ProviderError`
(the check could not be made; ``retryable`` says whether trying again later may help).
Providers never raise for these.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

NOT_FOUND = "not_found"
NAME_DIFFERS = "name_differs"
LEGAL_REP_DIFFERS = "legal_rep_differs"
NOT_ACTIVE = "not_active"
FAILURE_CODES = (NOT_FOUND, NAME_DIFFERS, LEGAL_REP_DIFFERS, NOT_ACTIVE)


@dataclass(frozen=True)
class Company:
    """Declared, locally validated organisation data sent to the registry."""

    name: str
    credit_code: str
    legal_rep_name: str


@dataclass(frozen=True)
class Passed:
    """The registry holds this organisation, with this legal representative, in business."""


@dataclass(frozen=True)
class Failed:
    """The registry says the declared data are wrong (``code``: which part)."""

    reason: str
    code: str = NOT_FOUND


@dataclass(frozen=True)
class ProviderError:
    """The check could not be made (provider down, timeout, refused request)."""

    reason: str
    retryable: bool = True


CheckResult = Passed | Failed | ProviderError


class RegistryProvider(abc.ABC):
    """One implementation per registry connection (``sandbox``, ``http``)."""

    #: Short name, kept on each verification attempt and in the organisation log.
    name: str = ""

    @abc.abstractmethod
    def check_company(self, company: Company, *, request_id: str) -> CheckResult:
        """企业三要素: name + unified social credit code + legal representative's name."""
