"""What the verifier reports: plain, frozen records (see :mod:`qianshu.signing.verify`).

Every field holds plain Python values (str, int, bool, datetime, tuples of those), never
pyHanko or asn1crypto objects: reports cross the isolation process boundary by pickling and
are serialised to JSON by the command line and the verification API.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

from asn1crypto import x509 as asn1_x509

VALID, INVALID, INDETERMINATE = "valid", "invalid", "indeterminate"
_RANK = {VALID: 0, INDETERMINATE: 1, INVALID: 2}


def worst(*verdicts: str) -> str:
    """The worst of ``verdicts`` (invalid > indeterminate > valid); valid for none."""
    return max(verdicts, key=_RANK.__getitem__, default=VALID)


@dataclass(frozen=True)
class TimestampReport:
    """A signature time-stamp token (RFC 3161) embedded in a signature."""

    time: dt.datetime | None
    tsa: str
    intact: bool
    valid: bool
    trusted: bool
    verdict: str = VALID
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignatureReport:
    """What we know about one signature or document time-stamp."""

    index: int
    field_name: str
    kind: str  # "signature" | "certification" | "document_timestamp"
    verdict: str
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    revision: int = -1  # the revision it signs (0 = the original file)
    signer_name: str = ""
    organisation: str = ""
    organisation_id: str = ""
    certificate_serial: str = ""
    certificate_sha256: str = ""
    chain: tuple[str, ...] = ()
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    # good | revoked | revoked_after_poe | not_checked | unknown
    revocation: str = "not_checked"
    revocation_time: dt.datetime | None = None
    signing_time: dt.datetime | None = None
    signing_time_source: str = ""  # timestamp | claimed
    proof_of_existence: dt.datetime | None = None
    proof_of_existence_source: str = ""  # signature_timestamp | document_timestamp | ""
    timestamp: TimestampReport | None = None
    coverage: str = ""
    modification_level: str = ""
    docmdp_ok: bool | None = None
    changed_form_fields: tuple[str, ...] = ()
    ltv: bool = False
    pades_level: str = ""
    reason: str = ""
    location: str = ""


@dataclass(frozen=True)
class ChangeReport:
    """A change made in a later revision that the document's signatures do not allow."""

    revision: int
    verdict: str
    kind: str  # added_after_completion | covers_page_content | signature_repainted | ...
    description: str
    field_name: str = ""
    page: int | None = None  # zero-based


@dataclass(frozen=True)
class VerificationReport:
    verdict: str
    reason: str
    sha256: str
    size: int
    signatures: tuple[SignatureReport, ...] = ()
    changes: tuple[ChangeReport, ...] = ()
    warnings: tuple[str, ...] = ()
    strict_parser: bool = True
    document_timestamped: bool = False
    revisions: int = 0
    completed_revision: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 strings, tuples as lists."""
        result: dict[str, Any] = _plain(self)
        return result


def _plain(value: Any) -> Any:
    # A hand-written asdict: dataclasses.asdict deep-copies every leaf value.
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, TimestampReport | SignatureReport | ChangeReport | VerificationReport):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class TrustSettings:
    """Which roots the verifier trusts: the platform root plus configured extra roots."""

    roots: tuple[asn1_x509.Certificate, ...]
    labels: dict[str, str] = field(default_factory=dict)
