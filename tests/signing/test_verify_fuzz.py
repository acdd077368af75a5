"""Robustness of the verifier against mutated signed PDFs (fixed seed, bounded).

Every mutated file must produce a report (an exception fails the test: nothing here catches
one), and no file whose signed content changed may be called "valid". The oracle
(:func:`must_not_be_valid`), per mutated file:

* identical bytes: must be "valid";
* a changed length: must not be "valid", except (1) a cut exactly at the end of an earlier
  revision — that earlier version is itself validly signed, (2) end-of-line whitespace added or
  removed after the final ``%%EOF`` where no signature covers it (the verifier tolerates it on
  purpose), (3) edits inside the unsigned validation-data revision a B-LTA file ends with, as
  long as the file still ends with ``%%EOF`` (pyHanko's diff analysis judges those);
* same length, a changed byte inside any signature's /ByteRange: must not be "valid";
* same length, changes only in unsigned bytes (hex /Contents strings, the final LTA revision):
  "valid" only if every CMS still signs exactly what it signed (encapsulated content, digest
  and signature algorithms, signed attributes, signature value). Its timestamp tokens are
  unsigned attributes: one may be gone (the signature drops to B-B), and one whose signed
  content changed (a copied or corrupted token) must be reported as a time-stamp that cannot
  be relied on — an indeterminate time-stamp, never a proof of existence — while the document
  may stay valid (issue 11). The certificate bag, the signer id and the zero padding after
  the DER are not signed by design.

``QIANSHU_FUZZ_MUTATIONS`` sets the number of mutations of the default run (1,500, ~50 s since
the verifier grew its issue-11 checks); the test marked ``slow`` (run it with ``-m slow``) does
twenty times as many with another seed.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from asn1crypto.pem import armor as pem_armor
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields

from qianshu.signing.signers import to_asn1
from qianshu.signing.verify import (
    INDETERMINATE,
    INVALID,
    VALID,
    TrustSettings,
    VerificationReport,
    verify_pdf,
)
from tests.signing import helpers

DEFAULT_MUTATIONS = int(os.environ.get("QIANSHU_FUZZ_MUTATIONS", "1500"))
EOL_WHITESPACE = b"\r\n\t\f\x00 "
_STRUCTURE_RE = re.compile(
    rb"xref|trailer|startxref|%%EOF|/ByteRange|/Contents|/Prev|/Root|/Size|/Length|/Type|"
    rb"/AcroForm|/Annots|/Fields|/Kids|/V |/DocMDP|/DSS| obj| R\b|endobj|stream|<<|>>|\["
)


@dataclass(frozen=True)
class Edit:
    """Replace ``delete`` bytes at ``offset`` with ``insert``."""

    offset: int
    delete: int
    insert: bytes


@dataclass(frozen=True)
class Mutation:
    """A replayable recipe: a kind (for the statistics) and non-overlapping edits."""

    kind: str
    edits: tuple[Edit, ...]

    def apply(self, data: bytes) -> bytes:
        out = bytearray(data)
        for edit in sorted(self.edits, key=lambda e: e.offset, reverse=True):
            out[edit.offset : edit.offset + edit.delete] = edit.insert
        return bytes(out)


@dataclass(frozen=True)
class Sample:
    """A signed document to mutate, with what the oracle needs to know about it."""

    name: str
    data: bytes
    trust: TrustSettings
    signed_spans: tuple[tuple[int, int], ...]
    contents_spans: tuple[tuple[int, int], ...]
    fingerprints: tuple[Fingerprint | None, ...]
    anchors: tuple[int, ...]  # offsets of PDF syntax worth hitting
    objects: tuple[tuple[int, int], ...]  # (start, end) of "N 0 obj ... endobj"
    weight: float

    @classmethod
    def of(cls, name: str, data: bytes, trust: TrustSettings, weight: float) -> Sample:
        contents = tuple(helpers.contents_spans(data))
        return cls(
            name=name,
            data=data,
            trust=trust,
            signed_spans=tuple(helpers.signed_spans(data)),
            contents_spans=contents,
            fingerprints=tuple(cms_fingerprint(data[s:e]) for s, e in contents),
            anchors=tuple(m.start() for m in _STRUCTURE_RE.finditer(data)),
            objects=tuple(m.span() for m in re.finditer(rb"\d+ 0 obj.*?endobj\s", data, re.S)),
            weight=weight,
        )


def _signer_core(signed_data: cms.SignedData) -> bytes:
    # Not the signer id: it is unsigned, and its issuer name is matched with X.500 rules
    # (case-insensitive), so flipping a letter's case still finds the same certificate.
    parts = [signed_data["encap_content_info"].dump()]
    for signer_info in signed_data["signer_infos"]:
        parts += [
            signer_info["digest_algorithm"].dump(),
            signer_info["signed_attrs"].dump(),
            signer_info["signature_algorithm"].dump(),
            signer_info["signature"].dump(),
        ]
    return hashlib.sha256(b"\x00".join(parts)).digest()


@dataclass(frozen=True)
class Fingerprint:
    """What a /Contents CMS signs, and what its embedded timestamp tokens sign."""

    core: bytes
    tokens: frozenset[bytes]

    def may_replace(self, original: Fingerprint | None) -> bool:
        return original is not None and self.core == original.core

    def new_tokens(self, original: Fingerprint | None) -> bool:
        # Unsigned attributes are not protected: a timestamp token may disappear (the
        # signature then drops to B-B); one that changed or appeared must not be trusted.
        return original is None or not self.tokens <= original.tokens


def cms_fingerprint(hex_string: bytes) -> Fingerprint | None:
    """The signed parts of the CMS in a hex /Contents string; None if it does not parse."""
    try:
        assert hex_string[:1] == b"<" and hex_string[-1:] == b">"
        digits = re.sub(rb"[\x00\t\n\f\r ]", b"", hex_string[1:-1])
        if len(digits) % 2:
            digits += b"0"
        signed_data = cms.ContentInfo.load(bytes.fromhex(digits.decode("ascii")))["content"]
        core = _signer_core(signed_data)
    except Exception:
        return None
    tokens = set()
    try:
        for signer_info in signed_data["signer_infos"]:
            for attr in signer_info["unsigned_attrs"] or ():
                if attr["type"].native == "signature_time_stamp_token":
                    tokens |= {_signer_core(token["content"]) for token in attr["values"]}
    except Exception:
        tokens.add(b"unreadable")  # a damaged token: changed, never to be relied on
    return Fingerprint(core, frozenset(tokens))


_REVISION_END_RE = re.compile(rb"%%EOF[\r\n\t\f\x00 ]*\Z")


def must_not_be_valid(sample: Sample, mutation: Mutation, mutated: bytes) -> bool:
    """Whether the oracle forbids "valid" for this mutated file (see the module docstring)."""
    original = sample.data
    signed_end = max(end for _, end in sample.signed_spans)
    if len(mutated) != len(original):
        if original.startswith(mutated):
            # Cut at the end of an earlier revision: that earlier version is validly signed.
            return not _REVISION_END_RE.search(mutated[-64:])
        if mutated.startswith(original):
            return bool(mutated[len(original) :].strip(EOL_WHITESPACE))
        if min(e.offset for e in mutation.edits) >= signed_end:
            # Inside the unsigned validation-data revision, which still ends the file.
            return not _REVISION_END_RE.search(mutated[-64:])
        return True
    if any(mutated[s:e] != original[s:e] for s, e in sample.signed_spans):
        return True
    for (start, end), original_print in zip(
        sample.contents_spans, sample.fingerprints, strict=True
    ):
        now = cms_fingerprint(mutated[start:end])
        if now is None or not now.may_replace(original_print):
            return True
    return False


def relies_on_changed_token(sample: Sample, mutated: bytes, report: VerificationReport) -> bool:
    """Whether the report trusts a signature time-stamp token whose signed content changed."""
    if len(mutated) != len(sample.data):
        return False  # judged by must_not_be_valid
    spans = sample.contents_spans
    changed = [
        i
        for i, ((start, end), original) in enumerate(zip(spans, sample.fingerprints, strict=True))
        if (now := cms_fingerprint(mutated[start:end])) is not None and now.new_tokens(original)
    ]
    if not changed:
        return False
    if len(report.signatures) != len(spans):
        return True
    ordered = sorted(report.signatures, key=lambda s: s.index)
    return any(
        (ts := ordered[i].timestamp) is not None and ts.verdict == VALID for i in changed
    ) or any(ordered[i].pades_level not in ("", "B-B") for i in changed)


def _offset(rng: random.Random, sample: Sample) -> int:
    data = sample.data
    roll = rng.random()
    if roll < 0.4:
        return rng.randrange(len(data))
    if roll < 0.6:
        start, end = rng.choice(sample.contents_spans)
        # mostly the DER part, sometimes the zero padding and the delimiters
        return rng.randrange(start, min(end, start + 6000) if rng.random() < 0.8 else end)
    if roll < 0.85:
        return min(len(data) - 1, max(0, rng.choice(sample.anchors) + rng.randrange(-4, 12)))
    return rng.randrange(max(0, len(data) - 3000), len(data))


def random_mutation(rng: random.Random, sample: Sample) -> Mutation:
    data = sample.data
    size = len(data)
    roll = rng.random()
    if roll < 0.45:
        offsets = {_offset(rng, sample) for _ in range(rng.randint(1, 8))}
        edits = tuple(
            Edit(o, 1, bytes([data[o] ^ rng.choice((0x01, 0x02, 0x04, 0x10, 0x20, 0x80, 0xFF))]))
            for o in sorted(offsets)
        )
        return Mutation("flip", edits)
    if roll < 0.55:
        cut = _offset(rng, sample) if rng.random() < 0.5 else rng.randrange(size)
        return Mutation("truncate", (Edit(cut, size - cut, b""),))
    if roll < 0.70:
        length = rng.choice((1, 2, 8, 64, 512, 4096))
        src = rng.randrange(size)
        dst = _offset(rng, sample)
        chunk = data[src : src + length]
        return Mutation("splice", (Edit(dst, min(len(chunk), size - dst), chunk),))
    if roll < 0.80:
        start, end = rng.choice(sample.objects)
        where = rng.choice((_offset(rng, sample), end, size))
        return Mutation("duplicate-object", (Edit(where, 0, data[start:end]),))
    garbage = rng.choice(
        (
            bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))),
            b"%%EOF\n",
            b"\nendobj\n",
            b" 0 obj << /Type /Page >> ",
            b"startxref\n0\n%%EOF\n",
            b"(" * 200,
            b"<<" * 200,
        )
    )
    where = size if rng.random() < 0.3 else _offset(rng, sample)
    return Mutation("insert", (Edit(where, 0, garbage),))


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    platform = helpers.make_platform()
    one = helpers.prepare(platform, helpers.make_pdf(1), fields=(), timestamps=False)
    contract = helpers.signed_document(platform)
    assert contract.finished is not None
    result = [
        Sample.of("B-B, one certification signature", one, platform.trust, 0.35),
        Sample.of("B-T, certification + person + seal", contract.signed, platform.trust, 0.3),
        Sample.of("B-LTA, finished contract", contract.finished, platform.trust, 0.25),
    ]
    if helpers.third_party_tools_available():
        third = helpers.sign_with_pdfsig(tmp_path_factory.mktemp("fuzz-nss"), helpers.make_pdf(1))
        trust = TrustSettings(roots=(*platform.trust.roots, _pem_cert(third.ca_pem)))
        result.append(Sample.of("pdfsig, lenient parser", third.pdf, trust, 0.1))
    for sample in result:
        report = verify_pdf(sample.data, sample.trust)
        assert report.verdict == VALID, (sample.name, report.reason)
        assert len(sample.signed_spans) == 2 * len(report.signatures), sample.name
    return result


def _pem_cert(pem: bytes) -> asn1_x509.Certificate:
    return to_asn1(x509.load_pem_x509_certificate(pem))


def run_fuzz(samples: list[Sample], total: int, seed: int, artifacts: Path) -> None:
    rng = random.Random(seed)
    counts: dict[str, Counter[str]] = {s.name: Counter() for s in samples}
    kinds: Counter[tuple[str, str]] = Counter()
    failures: list[str] = []
    slowest = (0.0, "")
    started = time.perf_counter()
    weights = [s.weight for s in samples]
    for i in range(total):
        sample = rng.choices(samples, weights)[0]
        mutation = random_mutation(rng, sample)
        mutated = mutation.apply(sample.data)
        t0 = time.perf_counter()
        report = verify_pdf(mutated, sample.trust)
        elapsed = time.perf_counter() - t0
        if elapsed > slowest[0]:
            slowest = (elapsed, f"{sample.name}: {mutation}"[:300])
        assert report.verdict in (VALID, INVALID, INDETERMINATE)
        assert report.size == len(mutated)
        counts[sample.name][report.verdict] += 1
        kinds[(mutation.kind, report.verdict)] += 1
        if mutated == sample.data:
            bad = report.verdict != VALID
        else:
            bad = report.verdict == VALID and (
                must_not_be_valid(sample, mutation, mutated)
                or relies_on_changed_token(sample, mutated, report)
            )
        if bad:
            # The original file and its trust roots, to replay the recipe: ``verify_pdf(
            # mutation.apply(pdf), TrustSettings(roots=...))``.
            path = artifacts / f"fuzz-{seed}-{hashlib.sha256(sample.data).hexdigest()[:12]}.pdf"
            path.write_bytes(sample.data)
            path.with_suffix(".roots.pem").write_bytes(
                b"".join(pem_armor("CERTIFICATE", root.dump()) for root in sample.trust.roots)
            )
            failures.append(f"#{i} {sample.name} ({path}): {mutation} -> {report.verdict}")
    duration = time.perf_counter() - started
    print(f"\nverify_pdf fuzz: {total} mutations, seed {seed}, {duration:.1f} s")
    for name, counter in counts.items():
        print(f"  {name}: {dict(counter)}")
    for kind in sorted({k for k, _ in kinds}):
        print(
            f"  {kind}: "
            + ", ".join(f"{v}={kinds[(kind, v)]}" for v in (VALID, INVALID, INDETERMINATE))
        )
    print(f"  slowest verification: {slowest[0]:.2f} s ({slowest[1]})")
    assert not failures, "wrong verdicts:\n" + "\n".join(failures[:20])


def test_mutated_signed_pdfs_never_crash_or_pass(
    samples: list[Sample], artifacts_dir: Path
) -> None:
    run_fuzz(samples, DEFAULT_MUTATIONS, seed=20251122, artifacts=artifacts_dir)


@pytest.mark.slow
def test_mutated_signed_pdfs_long_run(
    samples: list[Sample], artifacts_dir: Path, request: pytest.FixtureRequest
) -> None:
    # About three minutes on two cores. Nothing deselects "slow" by default yet, so this one
    # runs only when asked for: pytest -m slow.
    if "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("long fuzz run: select it with -m slow")
    run_fuzz(samples, DEFAULT_MUTATIONS * 20, seed=7, artifacts=artifacts_dir)


# --- regressions found by this fuzzer, as replayable recipes -----------------------------------


def _sample(samples: list[Sample], prefix: str) -> Sample:
    return next(s for s in samples if s.name.startswith(prefix))


def _rename_last_subfilter(data: bytes) -> Mutation:
    # "/SubFilter /ETSI.CAdES.detached" -> "/SubFilter /UTSI.CAdES.detached" (same for RFC3161)
    offset = data.rindex(b"/SubFilter /") + len(b"/SubFilter /")
    return Mutation("flip", (Edit(offset, 1, b"U"),))


def _close_last_signature_dictionary(data: bytes) -> Mutation:
    # Inside the hex /Contents: ">" ends the string, ">>" the dictionary, so /ByteRange and
    # /SubFilter are gone; the rest up to the real "endobj" is junk between objects.
    start, _ = helpers.contents_spans(data)[-1]
    return Mutation("splice", (Edit(start + 100, 10, b">>> endobj"),))


SIGNATURE_DROPPED = {
    # seed 20251122 #1423 and seeds 1-4: a flipped letter in /SubFilter
    "subfilter-of-seal": ("B-T", _rename_last_subfilter),
    "subfilter-of-document-timestamp": ("B-LTA", _rename_last_subfilter),
    # seed 4: a 4 KB splice of PDF syntax over the seal's /Contents (only unsigned bytes)
    "contents-closes-seal-dictionary": ("B-T", _close_last_signature_dictionary),
}


@pytest.mark.parametrize("case", SIGNATURE_DROPPED)
def test_regression_damaged_signature_is_not_ignored(samples: list[Sample], case: str) -> None:
    """A signature whose dictionary is damaged must not just vanish from the report.

    BUG in verify.py: pyHanko's ``embedded_signatures`` skips filled signature fields whose
    /SubFilter is missing or unknown (``collect_embedded_signatures`` logs and continues), so
    the damaged signature — its signed bytes changed — is not validated at all, and the other
    signatures make the file "valid".
    """
    prefix, recipe = SIGNATURE_DROPPED[case]
    sample = _sample(samples, prefix)
    mutation = recipe(sample.data)
    mutated = mutation.apply(sample.data)
    assert must_not_be_valid(sample, mutation, mutated)
    report = verify_pdf(mutated, sample.trust)
    assert report.verdict != VALID, (mutation, report.reason, len(report.signatures))


def test_regression_broken_xref_entry_does_not_hide_a_revision(samples: list[Sample]) -> None:
    """seed 7, #15935: one byte of the newest xref table, in the seal field's entry.

    "0000038961 00000 n" -> "0000 38961 00000 n": the strict reader fails, the lenient reader
    resolves the seal field to its unsigned previous version, and the seal signature — a
    whole revision — disappears from the report, which then says "valid" (BUG in verify.py,
    see test_verify_tamper's broken-xref test for the page-content version of this attack).
    """
    sample = _sample(samples, "B-T")
    reader = PdfFileReader(io.BytesIO(sample.data))
    seal_field = next(
        ref for name, _, ref in enumerate_sig_fields(reader) if name == helpers.SEAL_FIELD
    )
    mutated = helpers.break_xref_entry(sample.data, seal_field.idnum)
    assert must_not_be_valid(sample, Mutation("flip", ()), mutated)
    report = verify_pdf(mutated, sample.trust)
    assert report.verdict != VALID, (report.reason, [s.field_name for s in report.signatures])


def test_regression_stripped_signature_timestamp_leaves_b_b(samples: list[Sample]) -> None:
    """Unsigned attributes are not protected: renaming the timestamp attribute drops it.

    seed 20251122, #2509: "0E" -> "00" in the OID 1.2.840.113549.1.9.16.2.14 of the seal's
    signature-time-stamp attribute. The signature stays valid, but must be reported as B-B.
    """
    sample = _sample(samples, "B-T")
    start, end = sample.contents_spans[-1]
    oid = b"060B2A864886F70D010910020E"
    offset = sample.data.index(oid, start, end) + len(oid) - 2
    mutation = Mutation("splice", (Edit(offset, 2, b"00"),))
    mutated = mutation.apply(sample.data)
    assert not must_not_be_valid(sample, mutation, mutated)
    report = verify_pdf(mutated, sample.trust)
    seal = report.signatures[-1]
    assert seal.field_name == helpers.SEAL_FIELD
    assert (seal.timestamp, seal.pades_level) == (None, "B-B")
    assert report.verdict == VALID, report.reason


def test_regression_damaged_digest_algorithm_is_not_valid(samples: list[Sample]) -> None:
    """seed 7, #12316: "05 00" (NULL parameters of SignerInfo.digestAlgorithm) -> "45 00".

    The identifier is not covered by the signature and asn1crypto parses it lazily, so the
    OID still reads "sha256" and the signature verified: a malformed CMS called "valid".
    """
    sample = _sample(samples, "B-B")
    start, end = sample.contents_spans[0]
    algorithm = b"300D06096086480165030402010500"
    # The last occurrence is the SignerInfo's (the first is SignedData.digestAlgorithms).
    offset = sample.data.rindex(algorithm, start, end) + len(algorithm) - 4
    mutation = Mutation("splice", (Edit(offset, 1, b"4"),))
    mutated = mutation.apply(sample.data)
    assert must_not_be_valid(sample, mutation, mutated)
    report = verify_pdf(mutated, sample.trust)
    assert report.verdict != VALID, report.reason
