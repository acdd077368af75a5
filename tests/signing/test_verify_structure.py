"""Issue 11, items 3 and 4: no false "invalid" on legitimate files, no crashes, isolation.

Each of these files made the verifier say "invalid", refuse the file, or crash before.
"""

from __future__ import annotations

import json
import pickle

import pytest

from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.verify import (
    INDETERMINATE,
    INVALID,
    VALID,
    VerificationReport,
    format_report,
    verify_pdf,
    verify_pdf_limited,
)
from tests.signing import helpers
from tests.signing.corpus import structure_files, trust_files


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return EphemeralPlatform()


def _valid(report: VerificationReport) -> None:
    assert report.verdict == VALID, format_report(report)
    assert not report.changes


def test_signature_inside_a_linearized_file(platform: EphemeralPlatform) -> None:
    """Before: "data was hidden after the last revision" (the last startxref of a linearized
    file points to its first-page section at the start)."""
    _valid(verify_pdf(structure_files.linearized_signed_in_place(platform), platform.trust))


def test_linearized_then_signed(platform: EphemeralPlatform) -> None:
    _valid(verify_pdf(structure_files.linearized_then_signed(platform), platform.trust))


def test_dss_and_vri_rewrites_are_allowed(platform: EphemeralPlatform) -> None:
    """Before: the document time-stamp failed ("VRI key ... was modified or deleted")."""
    report = verify_pdf(structure_files.dss_vri_rewrite(platform), platform.trust)
    _valid(report)
    assert {s.modification_level for s in report.signatures} <= {"lta_updates", "form_filling"}


def test_freeing_an_unused_object_is_allowed(platform: EphemeralPlatform) -> None:
    """Before: "The refs ... were freed in the revision provided" made it invalid."""
    _valid(verify_pdf(structure_files.freed_objects(platform), platform.trust))


def test_freeing_an_object_still_in_use_is_invalid(platform: EphemeralPlatform) -> None:
    report = verify_pdf(structure_files.freed_object_in_use(platform), platform.trust)
    assert report.verdict == INVALID, format_report(report)
    assert [c.kind for c in report.changes] == ["deleted_content"]


def test_choice_field_selection_index_may_change(platform: EphemeralPlatform) -> None:
    """Before: "Values for dict key /I differ" made every signature invalid."""
    report = verify_pdf(structure_files.choice_index_change(platform), platform.trust)
    assert report.verdict == VALID, format_report(report)
    for sig in report.signatures:
        assert "delivery" in sig.changed_form_fields
        assert any("delivery" in w for w in sig.warnings)


@pytest.mark.parametrize(
    ("builder", "problem"),
    [
        (trust_files.copied_signature_timestamp, "not made for this signature"),
        (trust_files.broken_signature_timestamp, "signature does not verify"),
    ],
    ids=["copied", "broken"],
)
def test_unusable_signature_time_stamp_only_costs_its_proof_of_existence(
    platform: EphemeralPlatform, builder, problem: str
) -> None:  # type: ignore[no-untyped-def]
    """Before: one bad signature time-stamp made the whole document invalid."""
    report = verify_pdf(builder(platform), platform.trust)
    assert report.verdict == VALID, format_report(report)
    seal = next(s for s in report.signatures if s.field_name == helpers.SEAL_FIELD)
    assert seal.timestamp is not None and seal.timestamp.verdict == INDETERMINATE
    assert any(problem in p for p in seal.timestamp.problems)
    assert (seal.pades_level, seal.proof_of_existence) == ("B-B", None)
    assert any("cannot be relied on" in w for w in report.warnings)
    alice = next(s for s in report.signatures if s.field_name == helpers.PERSON_FIELD)
    assert alice.timestamp and alice.timestamp.verdict == VALID and alice.pades_level == "B-T"


def test_hybrid_reference_file_is_verified_with_a_warning(platform: EphemeralPlatform) -> None:
    """Before: "cannot be validated (hybrid xref)" for every such file."""
    report = verify_pdf(structure_files.hybrid_reference(platform), platform.trust)
    assert report.verdict == VALID, format_report(report)
    assert not report.strict_parser
    assert any("hybrid-reference" in w for w in report.warnings)


def test_hybrid_reference_file_with_conflicting_entries_is_refused(
    platform: EphemeralPlatform,
) -> None:
    report = verify_pdf(structure_files.hybrid_reference_conflict(platform), platform.trust)
    assert report.verdict == INDETERMINATE, format_report(report)
    assert "hybrid" in report.reason and "disagree" in report.reason


def test_indirect_kids_are_followed(platform: EphemeralPlatform) -> None:
    """Before: TypeError "'IndirectObject' object is not iterable", cannot be validated."""
    report = verify_pdf(structure_files.indirect_kids(platform), platform.trust)
    _valid(report)
    assert {s.field_name for s in report.signatures} == {"parties.buyer", "parties.seller"}


def test_bogus_field_fails_alone(platform: EphemeralPlatform) -> None:
    """Before: one unreadable value made the whole document "cannot be validated"."""
    report = verify_pdf(structure_files.bogus_field_beside_good(platform), platform.trust)
    by_field = {s.field_name: s for s in report.signatures}
    assert report.verdict == INDETERMINATE, format_report(report)
    assert by_field[helpers.SEAL_FIELD].verdict == INDETERMINATE
    assert "cannot be validated" in by_field[helpers.SEAL_FIELD].problems[0]
    assert by_field["QS-Certification"].verdict == VALID
    assert by_field[helpers.PERSON_FIELD].verdict == VALID


def test_one_signature_with_a_widget_per_page(platform: EphemeralPlatform) -> None:
    """A cross-page seal as one signature whose field has a widget on every page."""
    _valid(verify_pdf(structure_files.multi_widget_signature(platform), platform.trust))


def test_reports_hold_plain_values(platform: EphemeralPlatform) -> None:
    """Before: ``changed_form_fields`` held pyHanko string objects: a PicklingError across the
    isolation process, and ``--json`` spent seconds deep-copying them."""
    data = structure_files.choice_index_change(platform)
    report = verify_pdf_limited(data, platform.trust)  # pickled back from the child
    assert report.verdict == VALID, format_report(report)
    names = [n for s in report.signatures for n in s.changed_form_fields]
    assert names and all(type(n) is str for n in names)
    assert pickle.loads(pickle.dumps(report)) == report
    assert json.loads(json.dumps(report.to_dict()))["signatures"][0]["changed_form_fields"]
