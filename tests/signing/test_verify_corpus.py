"""The generated corpus: every file gets the verdict its manifest entry expects.

One file per class the verifier must get right (issue 11): linearized files, DSS/VRI
rewrites, freed objects, a choice field's /I change, hybrid-reference files, indirect /Kids,
a bogus field beside good signatures, copied and broken signature time-stamps, revocation
before and after the proof of existence, unprotected and forged validation data, archive
renewal, and the overlay attack. pyHanko's validator and poppler's pdfsig are run on the same
files; where we deliberately disagree the manifest says why.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DiffPolicy, DiffResult
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from qianshu.signing import _objectpaths, _speedups
from qianshu.signing.diffpolicy import diff_policy
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.modifications import RevisionSteps
from tests.signing.corpus import build
from tests.support import pdfsig

MANIFEST: dict[str, Any] = build.manifest()["files"]


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return EphemeralPlatform()


@pytest.fixture(scope="module")
def files(platform: EphemeralPlatform) -> dict[str, bytes]:
    return build.build_all(platform)


def test_manifest_covers_every_file() -> None:
    assert set(MANIFEST) == set(build.BUILDERS)
    for name, entry in MANIFEST.items():
        expected = entry["expected"]["verdict"]
        disagrees = expected != entry["pyhanko"] or (
            entry["pdfsig"] is not None and expected != entry["pdfsig"]
        )
        assert bool(entry.get("differs")) == disagrees, f"{name}: say why we differ, or don't"


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_our_verdict(name: str, files: dict[str, bytes], platform: EphemeralPlatform) -> None:
    expected = MANIFEST[name]["expected"]
    seen = build.observe(name, files[name], platform, None)
    context = f"{name}: {seen['reason']}\n{seen}"
    assert seen["verdict"] == expected["verdict"], context
    for field, verdict in expected["signatures"].items():
        assert seen["signatures"].get(field) == verdict, context
    for field, level in expected["levels"].items():
        assert seen["levels"].get(field) == level, context
    assert seen["changes"] == sorted(expected["changes"]), context
    for text in expected["warnings"]:
        assert any(text in w for w in seen["warnings"]), context
    assert seen["pyhanko"] == MANIFEST[name]["pyhanko"], f"pyHanko changed its mind: {context}"


@pytest.mark.skipif(not pdfsig.available(), reason="needs pdfsig, certutil and gcc")
def test_pdfsig_verdicts(
    files: dict[str, bytes], platform: EphemeralPlatform, tmp_path: Path
) -> None:
    from qianshu.signing import pki

    root = pki.certificate_pem(platform.pki.root.certificate)
    differences = {}
    for name, data in files.items():
        workdir = tmp_path / name
        workdir.mkdir()
        verdict = build.pdfsig_verdict(data, root, workdir)
        if verdict != MANIFEST[name]["pdfsig"]:
            differences[name] = verdict
    assert not differences, differences


def _review(policy: DiffPolicy, sig: EmbeddedPdfSignature) -> tuple[str, ...]:
    try:
        result = policy.review_file(sig.reader, sig.signed_revision, sig.fieldmdp, sig.docmdp_level)
    except Exception as exc:  # compared, not hidden
        return ("raises", type(exc).__name__)
    if not isinstance(result, DiffResult):
        return ("suspicious",)
    return ("allowed", result.modification_level.name, *sorted(result.changed_form_fields))


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_revision_steps_agree_with_the_per_signature_analysis(
    name: str, files: dict[str, bytes]
) -> None:
    """The analysis shared per revision step (qianshu.signing.modifications) gives every
    signature of every corpus file what pyHanko's per-signature review gives — each later
    revision against the signed one: the same outcome, level and changed fields."""
    data = files[name]
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=True)
        signatures = _signatures(reader)
    except Exception:  # the verifier reads these leniently too
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = _signatures(reader)
    steps, per_signature = RevisionSteps(reader), diff_policy()
    for sig in signatures:
        assert _review(steps, sig) == _review(per_signature, sig), (name, sig.field_name)


def _signatures(reader: PdfFileReader) -> list[EmbeddedPdfSignature]:
    found = []
    for name, _, field in enumerate_sig_fields(reader, filled_status=True):
        try:
            found.append(EmbeddedPdfSignature(reader, field, name))
        except Exception:  # not a signature (the bogus field)
            continue
    return found


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_object_paths_are_pyhankos(name: str, files: dict[str, bytes]) -> None:
    """qianshu.signing._objectpaths computes pyHanko's reverse cross-reference cache: the same
    paths to every object, in every revision of every corpus file."""
    reader = PdfFileReader(io.BytesIO(files[name]), strict=False)
    for revision in range(reader.xrefs.total_revisions):
        resolver = reader.get_historical_resolver(revision)
        assert _paths(_objectpaths.paths_to_objects, resolver) == _paths(
            _objectpaths._original, resolver
        ), (name, revision)


def _paths(compute: Any, resolver: Any) -> Any:
    resolver._indirect_object_access_cache = None
    try:
        found = compute(resolver) or resolver._indirect_object_access_cache
    except Exception as exc:  # the same error, or the same paths
        return type(exc).__name__
    return {ref: found[ref] for ref in found}


def _same_copy(fast: Any, original: Any, resolver: Any) -> bool:
    """The same objects, bound to ``resolver`` in the same places."""
    if type(fast) is not type(original) or fast != original:
        return False
    if isinstance(fast, generic.IndirectObject):
        return fast.reference.pdf is resolver and original.reference.pdf is resolver
    if isinstance(fast, generic.DictionaryObject | generic.ArrayObject):
        ref, other = fast.container_ref, original.container_ref
        if ref != other or getattr(ref, "pdf", None) is not getattr(other, "pdf", None):
            return False
        pairs = (
            zip(fast.values(), original.values(), strict=True)
            if isinstance(fast, generic.DictionaryObject)
            else zip(fast, original, strict=True)
        )
        if isinstance(fast, generic.StreamObject) and fast.encoded_data != original.encoded_data:
            return False
        return all(_same_copy(a, b, resolver) for a, b in pairs)
    return fast is original


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_revision_copies_are_pyhankos(name: str, files: dict[str, bytes]) -> None:
    """qianshu.signing._speedups copies an object into an older revision's view exactly as
    pyHanko does: every object of every revision of every corpus file."""
    reader = PdfFileReader(io.BytesIO(files[name]), strict=False)
    for revision in range(reader.xrefs.total_revisions):
        resolver = reader.get_historical_resolver(revision)
        for ref in reader.xrefs.explicit_refs_in_revision(revision):
            try:
                obj = reader.get_object(ref, revision, transparent_decrypt=False)
            except Exception:  # unreadable objects are the other tests' business
                continue
            fast = _speedups.subsume_object(resolver, obj)
            original = _speedups._original_subsume(resolver, obj)
            assert _same_copy(fast, original, resolver), (name, revision, ref)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_historical_reads_are_pyhankos(name: str, files: dict[str, bytes]) -> None:
    """qianshu.signing._speedups keeps an older revision's objects by location: asked again,
    in any revision, it gives what pyHanko reads there."""
    reader = PdfFileReader(io.BytesIO(files[name]), strict=False)
    fresh = PdfFileReader(io.BytesIO(files[name]), strict=False)
    refs = {ref for r in range(reader.xrefs.total_revisions) for ref in _explicit(reader, r)}
    for _ in range(2):  # the second round is answered from what the first one kept
        for revision in range(reader.xrefs.total_revisions):
            for ref in sorted(refs, key=lambda r: (r.idnum, r.generation)):
                fast = _read(_speedups.get_object, reader, ref, revision)
                original = _read(_speedups._original_get_object, fresh, ref, revision)
                assert type(fast) is type(original) and fast == original, (name, revision, ref)


def _explicit(reader: PdfFileReader, revision: int) -> set[generic.Reference]:
    return set(reader.xrefs.explicit_refs_in_revision(revision))


def _read(get: Any, reader: PdfFileReader, ref: Any, revision: int) -> Any:
    try:
        return get(reader, ref, revision, transparent_decrypt=False)
    except Exception as exc:  # the same error, or the same object
        return type(exc).__name__


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_cross_reference_answers_are_pyhankos(name: str, files: dict[str, bytes]) -> None:
    """qianshu.signing._speedups keeps where and when each object was written: asked twice,
    it answers what pyHanko's search of the cross-reference sections answers."""
    xrefs = PdfFileReader(io.BytesIO(files[name]), strict=False).xrefs
    total = xrefs.total_revisions
    refs = {ref for r in range(total) for ref in xrefs.explicit_refs_in_revision(r)}
    refs |= {generic.Reference(n) for n in range(max(r.idnum for r in refs) + 2)}
    for _ in range(2):
        for ref in refs:
            for fast, original in (
                (_speedups.get_last_change, _speedups._original_get_last_change),
                (_speedups.get_introducing_revision, _speedups._original_get_introducing_revision),
            ):
                assert _answer(fast, xrefs, ref) == _answer(original, xrefs, ref), (name, ref)
            for revision in range(total):
                fast_at = _speedups.get_historical_ref(xrefs, ref, revision)
                assert fast_at == _speedups._original_get_historical_ref(xrefs, ref, revision)


def _answer(search: Any, *args: Any) -> Any:
    try:
        return search(*args)
    except KeyError:
        return "KeyError"
