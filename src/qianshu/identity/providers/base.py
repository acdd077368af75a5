"""The identity provider interface: the external checks behind personal verification.

A provider answers three kinds of questions about a person whose declared data has already been
validated locally (document number format and check digit, card Luhn check, phone format):

- ``check_phone3``: do name, document number and phone number belong together (carrier data)?
- ``check_bank4``: do name, document number, bank card and the bank-reserved phone match?
- ``start_face`` / ``face_result``: a redirect flow. ``start_face`` returns the URL of the
  provider's face-comparison page and a token; the provider sends the user back to
  ``return_url``, where the platform asks ``face_result(token)`` server-side — nothing in the
  return request itself is trusted.

Every answer is one of three typed results: :class:`Passed`, :class:`Failed` (the data do not
match; ``reason`` is shown to the user) or :class:`ProviderError` (the check could not be made;
``retryable`` says whether trying again later may help). Providers never raise for these.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass


@dataclass(frozen=True)
class Passed:
    """The provider confirmed the declared identity."""


@dataclass(frozen=True)
class Failed:
    """The provider says the data do not belong together."""

    reason: str


@dataclass(frozen=True)
class ProviderError:
    """The check could not be made (provider down, timeout, refused request, not finished)."""

    reason: str
    retryable: bool = True


CheckResult = Passed | Failed | ProviderError


@dataclass(frozen=True)
class Person:
    """Declared, locally validated identity data sent to the provider."""

    name: str
    id_type: str
    id_number: str


@dataclass(frozen=True)
class FaceSession:
    """Where to send the user for the face comparison, and the token to ask for its result."""

    url: str
    token: str


class IdentityProvider(abc.ABC):
    """One implementation per identity service (``sandbox``, ``http``)."""

    #: Short name stored on each attempt (``VerificationAttempt.provider``).
    name: str = ""

    @abc.abstractmethod
    def check_phone3(self, person: Person, phone: str, *, request_id: str) -> CheckResult:
        """Phone three-factor check: name + document number + phone number."""

    @abc.abstractmethod
    def check_bank4(
        self, person: Person, card_number: str, phone: str, *, request_id: str
    ) -> CheckResult:
        """Bank card four-factor check: name + document number + card + bank-reserved phone."""

    @abc.abstractmethod
    def start_face(
        self, person: Person, return_url: str, *, request_id: str
    ) -> FaceSession | ProviderError:
        """Open a face comparison; the user is redirected to ``FaceSession.url``."""

    @abc.abstractmethod
    def face_result(self, token: str, *, request_id: str) -> CheckResult:
        """The outcome of a face comparison; ``ProviderError(retryable=True)`` while pending."""
