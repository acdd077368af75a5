"""Tampering with signed documents must never verify as "valid" (SIGNING-NOTES, "fail closed").

A small contract — prepared (certified, DocMDP P=2), signed by a person, sealed by an
organisation, optionally finished as PAdES B-LTA — is attacked in the ways known from the PDF
signature literature: changed signed bytes, incremental updates adding or changing pages, data
after ``%%EOF``, form filling after signing, revoked and untrusted signers, broken input.
"""

from __future__ import annotations

import datetime as dt
import io
import random

import pikepdf
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.verify import (
    INDETERMINATE,
    INVALID,
    VALID,
    TrustSettings,
    VerificationReport,
    format_report,
    verify_pdf,
)
from tests.signing import helpers
from tests.signing.helpers import CREDIT_CODE, PERSON_FIELD, SEAL_FIELD

STAGES = ("signed", "finished")


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return helpers.make_platform()


@pytest.fixture(scope="module")
def contract(platform: EphemeralPlatform) -> helpers.SignedDocument:
    return helpers.signed_document(platform)


@pytest.fixture(scope="module")
def form_contract(platform: EphemeralPlatform) -> dict[str, bytes]:
    """A contract that arrived with an ordinary text field (amount = 100) before signing."""
    pdf = helpers.make_pdf(text_field=("amount", "100"))
    prepared = helpers.prepare(platform, pdf)
    signed, _ = helpers.sign_person(platform, prepared)
    sealed, _ = helpers.sign_seal(platform, signed)
    return {"signed": signed, "sealed": sealed, "finished": helpers.finish(platform, sealed)}


def _stage(contract: helpers.SignedDocument, stage: str) -> bytes:
    data = getattr(contract, stage)
    assert data is not None
    return data


def _assert_verdict(report: VerificationReport, verdict: str) -> None:
    text = format_report(report)
    assert report.verdict == verdict, text
    assert f"Verdict: {verdict.upper()}" in text


def _in_signed_range(data: bytes, offset: int) -> bool:
    return any(start <= offset < end for start, end in helpers.signed_spans(data))


def _in_contents(data: bytes, offset: int) -> bool:
    return any(start <= offset < end for start, end in helpers.contents_spans(data))


# --- the untouched document -------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_untouched_document_is_valid(
    platform: EphemeralPlatform, contract: helpers.SignedDocument, stage: str
) -> None:
    report = verify_pdf(_stage(contract, stage), platform.trust)
    _assert_verdict(report, VALID)
    assert report.strict_parser
    assert not report.warnings
    by_field = {s.field_name: s for s in report.signatures}
    expected = ["QS-Certification", PERSON_FIELD, SEAL_FIELD]
    if stage == "finished":
        expected.append("QS-DocTimeStamp")
    assert list(by_field) == expected
    for sig in report.signatures:
        assert (sig.verdict, sig.intact, sig.valid, sig.trusted) == (VALID, True, True, True)
        assert not sig.problems, sig.problems
        assert sig.coverage in ("entire_file", "entire_revision")
    assert by_field["QS-Certification"].kind == "certification"
    assert by_field[PERSON_FIELD].signer_name == "Alice"
    assert by_field[SEAL_FIELD].organisation_id == CREDIT_CODE
    assert by_field[SEAL_FIELD].timestamp is not None
    if stage == "finished":
        assert report.document_timestamped
        assert by_field["QS-DocTimeStamp"].kind == "document_timestamp"
        assert {by_field[f].pades_level for f in expected[:3]} == {"B-LTA"}
        assert by_field[PERSON_FIELD].revocation == "good"
    else:
        assert {by_field[f].pades_level for f in expected} == {"B-T"}


# --- (a) changed bytes inside a signed byte range ---------------------------------------------

# (what to find, what to put instead): same length, so every offset after it stays put
IN_PLACE_EDITS = {
    "page content": (b"pays 100 yuan", b"pays 900 yuan"),
    "page object": (b"/MediaBox [ 0 0 595 842 ]", b"/MediaBox [ 0 0 595 843 ]"),
    "signature field": (b"/Rect [ 60 60 220 120 ]", b"/Rect [ 60 60 220 720 ]"),
}


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("where", IN_PLACE_EDITS)
def test_changed_signed_bytes_are_invalid(
    platform: EphemeralPlatform, contract: helpers.SignedDocument, stage: str, where: str
) -> None:
    data = _stage(contract, stage)
    old, new = IN_PLACE_EDITS[where]
    offset = data.find(old)
    assert offset >= 0 and _in_signed_range(data, offset) and not _in_contents(data, offset)
    report = verify_pdf(data[:offset] + new + data[offset + len(old) :], platform.trust)
    _assert_verdict(report, INVALID)
    assert "changed" in report.reason
    assert not all(s.intact for s in report.signatures)


@pytest.mark.parametrize("stage", STAGES)
def test_single_flipped_bit_is_invalid(
    platform: EphemeralPlatform, contract: helpers.SignedDocument, stage: str
) -> None:
    data = _stage(contract, stage)
    offset = data.find(b"pays 100") + 5  # "1" -> "0"
    report = verify_pdf(
        data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :], platform.trust
    )
    _assert_verdict(report, INVALID)


# --- (b), (c) incremental updates that change pages -------------------------------------------


def _assert_modified(report: VerificationReport) -> None:
    _assert_verdict(report, INVALID)
    for sig in report.signatures:
        assert sig.intact, sig
        assert sig.verdict == INVALID, sig
        assert sig.modification_level == "other", sig
    assert "modified after signing" in format_report(report)


@pytest.mark.parametrize("stage", STAGES)
def test_page_added_in_incremental_update_is_invalid(
    platform: EphemeralPlatform, contract: helpers.SignedDocument, stage: str
) -> None:
    data = _stage(contract, stage)
    tampered = helpers.incremental_update(data, helpers.add_page)
    assert tampered.startswith(data)
    _assert_modified(verify_pdf(tampered, platform.trust))


@pytest.mark.parametrize("stage", STAGES)
def test_page_content_replaced_in_incremental_update_is_invalid(
    platform: EphemeralPlatform, contract: helpers.SignedDocument, stage: str
) -> None:
    data = _stage(contract, stage)
    tampered = helpers.incremental_update(
        data,
        lambda w: helpers.replace_page_content(
            w, 0, b"BT /F1 18 Tf 72 760 Td (Contract page 1: the buyer pays 900 yuan) Tj ET"
        ),
    )
    _assert_modified(verify_pdf(tampered, platform.trust))


@pytest.mark.parametrize("stage", STAGES)
def test_content_hidden_behind_a_broken_xref_entry_is_not_valid(
    platform: EphemeralPlatform, contract: helpers.SignedDocument, stage: str
) -> None:
    """An incremental update replaces the page text, and its xref entry is made unreadable.

    The strict reader refuses the file, so the verifier falls back to the lenient reader,
    which resolves the content stream to its signed version: the diff is empty. Repairing
    readers (qpdf here; poppler and PDFium too) show the new text. BUG in verify.py:
    "valid" with only a "lenient parser" warning.
    """
    data = _stage(contract, stage)
    content = helpers.page_content_object(data, 0)
    new_text = b"BT /F1 18 Tf 72 760 Td (Contract page 1: the buyer pays 900 yuan) Tj ET"
    updated = helpers.incremental_update(
        data, lambda w: helpers.replace_page_content(w, 0, new_text)
    )
    assert verify_pdf(updated, platform.trust).verdict == INVALID  # the honest update
    shadowed = helpers.break_xref_entry(updated, content)
    with pikepdf.open(io.BytesIO(shadowed)) as pdf:
        assert b"900 yuan" in pdf.pages[0].Contents.read_bytes()  # what a viewer shows
    report = verify_pdf(shadowed, platform.trust)
    assert report.verdict != VALID, format_report(report)


# --- (d) data after %%EOF ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "tail",
    [
        b"hidden text",
        b"\n% a comment\n",
        b"\n99 0 obj\n(pays 900 yuan)\nendobj\n",
        b"\n" + b"\x00" * 10 + b"x",
    ],
    ids=["text", "comment", "object", "nul-then-byte"],
)
@pytest.mark.parametrize("stage", STAGES)
def test_data_after_eof_is_invalid(
    platform: EphemeralPlatform, contract: helpers.SignedDocument, stage: str, tail: bytes
) -> None:
    report = verify_pdf(_stage(contract, stage) + tail, platform.trust)
    _assert_verdict(report, INVALID)
    assert "%%EOF" in report.reason


def _last_startxref(data: bytes) -> bytes:
    return data[data.rindex(b"startxref") :]


@pytest.mark.parametrize(
    ("stage", "hidden"),
    [
        ("signed", b"HIDDEN: the buyer pays 900 yuan\n"),
        ("finished", b"5 0 obj\n(pays 900 yuan)\nendobj\n"),
    ],
    ids=["text", "object"],
)
def test_data_hidden_before_a_repeated_startxref_is_not_valid(
    platform: EphemeralPlatform,
    contract: helpers.SignedDocument,
    stage: str,
    hidden: bytes,
) -> None:
    """Appended bytes followed by a copy of the file's own ``startxref N %%EOF``.

    pyHanko reads the last startxref, which points to the real last cross-reference section,
    and ignores everything between the real end of the file and the copy; the file still ends
    with ``%%EOF``. Nothing signs the appended bytes, and a reader that rebuilds the xref
    table sees the hidden object. BUG in verify.py: reported "valid".
    """
    data = _stage(contract, stage)
    report = verify_pdf(data + hidden + _last_startxref(data), platform.trust)
    assert report.verdict != VALID, format_report(report)


# --- (e) a pre-existing form field changed after signing --------------------------------------


@pytest.mark.parametrize("stage", ["signed", "finished"])
def test_changed_form_field_is_named(
    platform: EphemeralPlatform, form_contract: dict[str, bytes], stage: str
) -> None:
    data = form_contract[stage]
    tampered = helpers.incremental_update(
        data, lambda w: helpers.set_text_field(w, "amount", "900")
    )
    report = verify_pdf(tampered, platform.trust)
    text = format_report(report)
    # pyHanko calls a new field value "form filling", which the PDF rules allow: at worst
    # "valid", but then every signature made before the change must name the field.
    assert report.verdict in (VALID, INVALID), text
    assert f"Verdict: {report.verdict.upper()}" in text
    for sig in report.signatures:
        assert sig.intact, text
        if report.verdict == VALID:
            assert "amount" in sig.changed_form_fields, text
            assert any("amount" in w for w in sig.warnings), text
    assert "amount" in text


def test_unchanged_form_field_is_not_reported_as_changed(
    platform: EphemeralPlatform, form_contract: dict[str, bytes]
) -> None:
    """Nobody touched "amount" after signing: the report must not say it changed.

    BUG in verify.py: pyHanko's ``DiffResult.changed_form_fields`` lists every non-signature
    field it *allowed* to change (GenericFieldModificationRule yields a FormUpdate for each
    field present in both revisions), not the ones that did change; the verifier turns that
    into "form fields changed after this signature: amount" for every earlier signature. The
    warning is then always there and cannot reveal the attack above.
    """
    report = verify_pdf(form_contract["finished"], platform.trust)
    _assert_verdict(report, VALID)
    for sig in report.signatures:
        assert "amount" not in sig.changed_form_fields, format_report(report)
        assert not sig.warnings, format_report(report)


def test_forged_appearance_in_an_empty_signature_field_is_not_valid(
    platform: EphemeralPlatform,
) -> None:
    """After Alice signed, somebody paints a seal into the empty seal field.

    The field gets an appearance and a /V dictionary that is no signature at all. pyHanko
    treats the update as filling in a signature field ("form filling") and its list of
    embedded signatures silently skips a value without a supported /SubFilter. BUG in
    verify.py: "VALID — all 2 signatures are valid", while the page shows a seal nobody
    applied; the only hint is "form fields changed after this signature: acme-seal".
    """
    prepared = helpers.prepare(platform, helpers.make_pdf())
    signed, _ = helpers.sign_person(platform, prepared)
    forged = helpers.incremental_update(
        signed, lambda w: helpers.forge_signature_appearance(w, SEAL_FIELD)
    )
    report = verify_pdf(forged, platform.trust)
    assert report.verdict != VALID, format_report(report)


# --- (f) revoked signer -----------------------------------------------------------------------


def _signature_time(data: bytes, field: str) -> dt.datetime:
    """The time in the signature time stamp of ``field`` (its proof of existence)."""
    reader = PdfFileReader(io.BytesIO(data))
    embedded = next(s for s in reader.embedded_signatures if s.field_name == field)
    token = next(extract_tst_data_iter(embedded.signer_info, signed=False))
    info = token["encap_content_info"]["content"].parsed
    return info["gen_time"].native


def _revoked_contract(
    *, finished: bool, revoked_at: dt.datetime | str | None = None
) -> tuple[EphemeralPlatform, bytes]:
    platform = helpers.make_platform()
    prepared = helpers.prepare(platform, helpers.make_pdf())
    signed, serial = helpers.sign_person(platform, prepared)
    if revoked_at == "proof-time":
        revoked_at = _signature_time(signed, PERSON_FIELD)
    assert not isinstance(revoked_at, str)
    platform.revoke(serial, revoked_at)
    return platform, helpers.finish(platform, signed) if finished else signed


@pytest.mark.parametrize("when", ["at-the-proof-of-existence", "before-signing"])
def test_revoked_signer_is_invalid(when: str) -> None:
    """Revoked before the signature time stamp, or in the same instant: the time stamp does
    not show that the signature came first, so it is invalid. (Revoked later, it stays valid:
    test_verify_pastsig.) The instant is read from the token, never taken from the clock, so a
    slow machine cannot move the revocation after the proof."""
    revoked_at: dt.datetime | str = "proof-time"
    if when == "before-signing":
        revoked_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    platform, data = _revoked_contract(finished=True, revoked_at=revoked_at)
    report = verify_pdf(data, platform.trust)
    _assert_verdict(report, INVALID)
    assert "revoked" in report.reason
    by_field = {s.field_name: s for s in report.signatures}
    assert by_field[PERSON_FIELD].revocation == "revoked"
    assert by_field[PERSON_FIELD].verdict == INVALID
    assert by_field["QS-Certification"].verdict == VALID


def test_unfinished_document_does_not_claim_a_revocation_check() -> None:
    """B-T without embedded revocation data: nothing was checked, so nothing is "good".

    BUG in verify.py: ``_revocation_state`` answers "good" for every trusted certificate, and
    the soft-fail validation context never looks anything up (no fetching, no DSS). The
    signer here *is* revoked; the report says "Revocation: good" and "valid".
    """
    platform, data = _revoked_contract(finished=False)
    report = verify_pdf(data, platform.trust)
    alice = next(s for s in report.signatures if s.field_name == PERSON_FIELD)
    assert alice.revocation != "good", format_report(report)


# --- (g) another platform's signatures --------------------------------------------------------


@pytest.fixture(scope="module")
def foreign_contract() -> tuple[EphemeralPlatform, bytes]:
    other = helpers.make_platform("Other Platform")
    finished = helpers.signed_document(other).finished
    assert finished is not None
    return other, finished


def test_untrusted_platform_is_indeterminate(
    platform: EphemeralPlatform, foreign_contract: tuple[EphemeralPlatform, bytes]
) -> None:
    other, data = foreign_contract
    report = verify_pdf(data, platform.trust)
    _assert_verdict(report, INDETERMINATE)
    assert "not trusted" in report.reason
    for sig in report.signatures:
        assert (sig.intact, sig.valid, sig.trusted) == (True, True, False), sig
        assert sig.verdict == INDETERMINATE
    both = TrustSettings(roots=(*platform.trust.roots, *other.trust.roots))
    _assert_verdict(verify_pdf(data, both), VALID)


# --- (h) input that is not a (complete) PDF ---------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a pdf at all",
        b"\x89PNG\r\n\x1a\n" + bytes(100),
        bytes(range(256)) * 8,
        b"%PDF-1.7\n" + b"A" * 5000 + b"\n%%EOF\n",
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
    ],
    ids=["empty", "text", "png", "binary", "garbage-pdf", "no-xref"],
)
def test_unreadable_input_is_indeterminate(platform: EphemeralPlatform, data: bytes) -> None:
    report = verify_pdf(data, platform.trust)
    _assert_verdict(report, INDETERMINATE)
    assert report.reason
    assert report.size == len(data)


def test_unsigned_pdf_is_indeterminate(platform: EphemeralPlatform) -> None:
    report = verify_pdf(helpers.make_pdf(), platform.trust)
    _assert_verdict(report, INDETERMINATE)
    assert "no signatures" in report.reason


@pytest.mark.parametrize("cut", ["header-only", "inside-first-revision"])
def test_truncated_file_is_indeterminate(
    platform: EphemeralPlatform, contract: helpers.SignedDocument, cut: str
) -> None:
    """A file cut before its first %%EOF cannot be validated.

    BUG in verify.py: the end-of-file check runs first and reports any file that does not end
    in %%EOF as "invalid: data was appended after the end of the PDF (after the last %%EOF)",
    although such a file has no %%EOF at all.
    """
    data = contract.finished
    end = data.index(b"%%EOF") - 20 if cut == "inside-first-revision" else 9
    report = verify_pdf(data[:end], platform.trust)
    _assert_verdict(report, INDETERMINATE)


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.9, 0.999])
def test_file_truncated_after_a_revision_is_not_valid(
    platform: EphemeralPlatform, contract: helpers.SignedDocument, fraction: float
) -> None:
    data = contract.finished
    report = verify_pdf(data[: int(len(data) * fraction)], platform.trust)
    assert report.verdict in (INVALID, INDETERMINATE), format_report(report)
    assert "%%EOF" in report.reason or "cannot be" in report.reason


def test_random_bytes_never_raise(platform: EphemeralPlatform) -> None:
    rng = random.Random(1)
    for size in (1, 5, 100, 4096):
        junk = bytes(rng.randrange(256) for _ in range(size))
        report = verify_pdf(b"%PDF-1.7\n" + junk + b"\n%%EOF\n", platform.trust)
        assert report.verdict != VALID
