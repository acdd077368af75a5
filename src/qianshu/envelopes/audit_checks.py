"""The checks behind ``qianshu check-audit``: every audit trail against its head row, the
time-stamped anchors and the evidence reports, saying where they differ.

- Envelopes: :func:`envelope_findings` (events, envelope row, anchors, the completion
  time-stamp and the stored evidence report, whose ``qianshu-audit.json`` must hold the same
  head and token as the database).
- Organisation logs and security events: :func:`chain_findings`.
- The anchors themselves: :func:`anchor_findings` (numbering, links, digests, tokens, chains
  an anchor names that are gone, and how old the last periodic anchor is).
- An evidence report a party kept: :func:`report_file_findings` (its platform signature, its
  embedded time-stamp token, and the database against both).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from django.utils import timezone

from qianshu.accounts.audit import check_security_chain
from qianshu.accounts.models import User
from qianshu.accounts.phones import mask_phone
from qianshu.core import anchors
from qianshu.core.chains import Checkpoint
from qianshu.core.models import AuditAnchor, AuditAnchorEntry, AuditChain
from qianshu.envelopes import audit, reports
from qianshu.envelopes.models import Envelope
from qianshu.orgs.audit import check_org_chain
from qianshu.orgs.models import Organization
from qianshu.pki.platform import load_platform
from qianshu.signing import reports as report_pdf
from qianshu.signing import timestamps
from qianshu.signing.errors import SigningError, TimestampError
from qianshu.signing.verify import verify_pdf_limited
from qianshu.storage.errors import BlobStoreError


@dataclass(frozen=True)
class Finding:
    """One problem: what it concerns (``subject``) and what is wrong, saying where."""

    subject: str
    problem: str
    warning: bool = False


def _envelope_subject(envelope: Envelope) -> str:
    return f"envelope {envelope.number}"


def _report_checkpoint(content: dict[str, Any], source: str) -> tuple[Checkpoint, str | None]:
    """The head a report's attachment holds, and what is wrong with its time-stamp token."""
    point = Checkpoint(int(content["count"]), str(content["head"]), source)
    anchor = content["anchor"]
    entries = [(str(c), int(n), str(h)) for c, n, h in anchor["entries"]]
    if [content["chain"], point.count, point.head] not in [list(e) for e in entries]:
        return point, "its time-stamp does not cover the head it prints"
    digest = anchors.anchor_digest(anchor["prev"], entries)
    if digest.hex() != anchor["digest"]:
        return point, "its time-stamp entries do not give its digest"
    try:
        token = base64.b64decode(anchor["token"], validate=True)
        timestamps.check_token(token, digest, load_platform().trust().roots)
    except (TimestampError, binascii.Error, ValueError) as exc:
        return point, f"its time-stamp token is not valid: {exc}"
    return point, None


def _completion_digests(envelope: Envelope) -> set[str]:
    return set(
        AuditAnchor.objects.filter(
            kind=AuditAnchor.Kind.COMPLETION, entries__chain=audit.chain_id(envelope)
        ).values_list("digest", flat=True)
    )


def _stored_report(envelope: Envelope) -> tuple[list[Checkpoint], list[str]]:
    """The head held by the envelope's stored evidence report, and its problems. A report must
    carry one when the keyed-MAC trail recorded the completion."""
    required = audit.completion_event(envelope) is not None
    raw = None
    try:
        if envelope.report is not None:
            data = envelope.report.read()
            raw = report_pdf.read_attachment(data, reports.AUDIT_ATTACHMENT, isolated=False)
        if raw is None:
            missing = "the stored evidence report carries no audit time-stamp (or is missing)"
            return [], [missing] if required else []
        content = reports.parse_audit_attachment(raw)
    except (SigningError, BlobStoreError, ValueError) as exc:
        return [], [f"the stored evidence report cannot be read: {exc}"]
    point, problem = _report_checkpoint(content, "the stored evidence report")
    problems = [f"the stored evidence report: {problem}"] if problem else []
    if content["anchor"]["digest"] not in _completion_digests(envelope):
        problems.append("the stored evidence report's time-stamp is not the completion anchor")
    return [point], problems


def envelope_findings(envelope: Envelope, *, tokens: bool = True) -> list[Finding]:
    """Everything wrong with one envelope's trail; ``tokens``: also check the anchors'
    tokens (the full run checks every anchor once instead)."""
    subject = _envelope_subject(envelope)
    points, report_problems = _stored_report(envelope)
    found = [
        Finding(subject, f"broken at event {p.seq}: {p.reason}")
        for p in audit.check_envelope(envelope, extra=points)
    ]
    found += [Finding(subject, problem) for problem in report_problems]
    if tokens:
        found += [Finding(subject, problem) for problem in audit.check_anchor_tokens(envelope)]
    return found


def _user_label(chain: AuditChain) -> str:
    if chain.key == "anonymous":
        return "security events without a user"
    user_id = int(chain.key.removeprefix("user:"))
    user = User.objects.filter(pk=user_id).first()
    who = mask_phone(user.phone) if user is not None else "deleted user"
    return f"security events of {who} (user {user_id})"


def _org_label(chain: AuditChain) -> str:
    org_id = int(chain.key.removeprefix("org:"))
    org = Organization.objects.filter(pk=org_id).first()
    return f"organisation {org.name if org else '(deleted)'} (id {org_id})"


def chain_findings(*, orgs: bool, security: bool) -> Iterator[tuple[int, list[Finding]]]:
    """Per organisation / security chain: (1, its findings)."""
    rows = AuditChain.objects.order_by("pk")
    for chain in rows.iterator(chunk_size=500):
        if chain.key.startswith("org:") and orgs:
            problems, subject = check_org_chain(chain), _org_label(chain)
        elif (chain.key.startswith("user:") or chain.key == "anonymous") and security:
            problems, subject = check_security_chain(chain), _user_label(chain)
        else:
            continue
        yield 1, [Finding(subject, f"broken at event {p.seq}: {p.reason}") for p in problems]


def _gone_chains() -> Iterator[str]:
    """Chains some anchor covers that no longer exist (their events were deleted)."""
    named = AuditAnchorEntry.objects.values_list("chain", flat=True).distinct().order_by("chain")
    batch: list[str] = []
    for chain in [*named.iterator(chunk_size=2000), None]:
        if chain is not None:
            batch.append(chain)
            if len(batch) < 1000:
                continue
        uuids = [c.removeprefix("envelope:") for c in batch if c.startswith("envelope:")]
        found = {
            f"envelope:{u}"
            for u in Envelope.objects.filter(uuid__in=uuids).values_list("uuid", flat=True)
        }
        found |= set(AuditChain.objects.filter(key__in=batch).values_list("key", flat=True))
        yield from (c for c in batch if c not in found)
        batch = []


def anchor_findings(*, stale_after: dt.timedelta) -> list[Finding]:
    """The periodic anchors in order (numbering, links, digests, tokens), completion anchors,
    chains an anchor names that are gone, and a last periodic anchor older than
    ``stale_after`` (a warning: the timers may not run, or the last anchors were deleted)."""
    found: list[Finding] = []
    prev, expected = "", 1
    for anchor in AuditAnchor.objects.order_by("kind", "seq", "pk").iterator(chunk_size=100):
        subject = anchors.describe(anchor)
        if anchor.kind == AuditAnchor.Kind.PERIODIC:
            if anchor.seq != expected:
                found.append(Finding(subject, f"anchor #{expected} is missing (deleted)"))
            elif anchor.prev_digest != prev:
                found.append(Finding(subject, f"does not follow anchor #{expected - 1}"))
            prev, expected = anchor.digest, (anchor.seq or 0) + 1
        problem = anchors.check_anchor(anchor)
        if problem is not None:
            found.append(Finding(subject, problem))
    sequence = AuditChain.objects.filter(key=anchors.ANCHORS).first()
    if sequence is not None and (sequence.count, sequence.head) != (expected - 1, prev or "0" * 64):
        found.append(
            Finding(
                "periodic anchors", f"{sequence.count} recorded but the last is #{expected - 1}"
            )
        )
    found += [
        Finding(chain, "an anchor covers this chain but it is gone (deleted)")
        for chain in _gone_chains()
    ]
    last = anchors.last_periodic()
    if last is not None and last.token_time < timezone.now() - stale_after:
        found.append(
            Finding("periodic anchors", f"the last one is {anchors.describe(last)}", warning=True)
        )
    elif last is None and AuditChain.objects.exclude(key=anchors.ANCHORS).exists():
        found.append(
            Finding(
                "periodic anchors",
                "none yet: run the envelope timers or qianshu anchor-audit",
                warning=True,
            )
        )
    return found


def _platform_signed(data: bytes) -> str | None:
    """What is wrong with a report file's platform signature (None: valid, by the platform)."""
    platform = load_platform()
    result = verify_pdf_limited(data, platform.trust())
    if result.verdict != "valid":
        return f"its signature is not valid ({result.reason}): the file was changed or is not ours"
    ours = hashlib.sha256(platform.platform.certificate.public_bytes(Encoding.DER)).hexdigest()
    first = result.signatures[0] if result.signatures else None
    if first is None or first.certificate_sha256 != ours:
        return "it was not certified by this platform"
    return None


def report_file_findings(data: bytes, label: str) -> tuple[str, list[Finding]]:
    """Check an evidence report a party kept against the database. Returns the envelope's
    number (or "") and the findings."""
    subject = f"report {label}"
    problem = _platform_signed(data)
    if problem is not None:
        return "", [Finding(subject, problem)]
    try:
        raw = report_pdf.read_attachment(data, reports.AUDIT_ATTACHMENT)
        if raw is None:
            return "", [Finding(subject, "it carries no audit time-stamp (made before it existed)")]
        content = reports.parse_audit_attachment(raw)
    except (SigningError, ValueError) as exc:
        return "", [Finding(subject, f"its audit attachment cannot be read: {exc}")]
    point, problem = _report_checkpoint(content, f"the report {label}")
    if problem is not None:
        return "", [Finding(subject, problem)]
    envelope = Envelope.objects.filter(uuid=str(content["envelope"])).first()
    if envelope is None:
        return "", [Finding(subject, f"envelope {content['number']} is not in the database")]
    found = [
        Finding(_envelope_subject(envelope), f"broken at event {p.seq}: {p.reason}")
        for p in audit.check_envelope(envelope, extra=[point])
    ]
    if content["anchor"]["digest"] not in _completion_digests(envelope):
        found.append(
            Finding(
                _envelope_subject(envelope),
                f"the database's completion time-stamp differs from {point.source}",
            )
        )
    return envelope.number, found


def summarise(found: Sequence[Finding]) -> tuple[int, int]:
    """(problems, warnings)"""
    warnings = sum(1 for f in found if f.warning)
    return len(found) - warnings, warnings
