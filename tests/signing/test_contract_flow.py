"""Seed 001 at library level: a 3-page procurement contract through four parties to B-LTA.

Every revision and the final file must verify as intact and trusted with modification level no
worse than form filling — in our verifier, in pyHanko's own validator and in poppler's pdfsig
with the platform root in an NSS database — and the final file must be B-LTA. The cross-page
seal is one signature with a widget on every page, and completion locks the document.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko_certvalidator import ValidationContext

from qianshu.signing import pki, seals, stamps
from qianshu.signing.ephemeral import EphemeralPlatform, procurement_contract
from qianshu.signing.samples import make_test_pdf
from qianshu.signing.verify import verify_pdf
from tests.signing import helpers
from tests.support import pdfsig

STAGES = ["prepared", "supplier-rep", "supplier-seal", "buyer-rep", "tender-seal", "finished"]


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return EphemeralPlatform()


@pytest.fixture(scope="module")
def revisions(platform: EphemeralPlatform) -> list[bytes]:
    seal = seals.render_round_seal(
        seals.RoundSealSpec(
            org_name="厦门某某供应链有限公司", seal_name="合同专用章", code="3502000012345"
        )
    )
    return procurement_contract(
        platform,
        make_test_pdf(pages=3),
        seal_png=seal,
        signature_png=stamps.render_text_image("张三", height_px=96),
    )


def test_each_revision_extends_the_previous_one(revisions: list[bytes]) -> None:
    assert len(revisions) == len(STAGES)
    for before, after in itertools.pairwise(revisions):
        assert after.startswith(before), "an incremental update must keep earlier bytes"


@pytest.mark.parametrize("stage", range(len(STAGES)), ids=STAGES)
def test_our_verifier_accepts_every_revision(
    platform: EphemeralPlatform, revisions: list[bytes], stage: int
) -> None:
    report = verify_pdf(revisions[stage], platform.trust)
    assert report.verdict == "valid", report.reason
    for sig in report.signatures:
        assert sig.intact and sig.valid and sig.trusted, sig
        assert sig.modification_level in ("none", "lta_updates", "form_filling"), sig
        # Revocation data is embedded when the document is finished (B-LTA).
        assert sig.revocation == ("good" if STAGES[stage] == "finished" else "not_checked")
    # prepared: the platform; the supplier's turn adds its seal and ONE cross-page seal;
    # completion adds the platform's lock and the document time-stamp.
    assert len(report.signatures) == [1, 2, 4, 5, 6, 8][stage]


def test_final_file_is_b_lta_in_our_report(
    platform: EphemeralPlatform, revisions: list[bytes]
) -> None:
    report = verify_pdf(revisions[-1], platform.trust)
    assert report.document_timestamped
    signatures = [s for s in report.signatures if s.kind != "document_timestamp"]
    assert {s.pades_level for s in signatures} == {"B-LTA"}
    assert all(s.ltv for s in signatures)
    seal_sigs = [s for s in signatures if s.field_name.startswith("supplier-")]
    assert {s.organisation for s in seal_sigs if s.field_name != "supplier-rep"} == {
        "厦门某某供应链有限公司"
    }
    tender = next(s for s in signatures if s.field_name == "tender-seal")
    assert tender.organisation_id == "91110000100000589A"
    assert tender.signer_name.endswith("合同专用章")
    # Earlier signers see the later ones as filled signature fields, not as other changes.
    first = next(s for s in signatures if s.field_name == "supplier-rep")
    assert "tender-seal" in first.changed_form_fields
    assert not first.warnings


def _vc(platform: EphemeralPlatform) -> ValidationContext:
    return ValidationContext(trust_roots=platform.trust_roots, allow_fetching=False)


@pytest.mark.parametrize("stage", range(len(STAGES)), ids=STAGES)
def test_pyhanko_validator_accepts_every_revision(
    platform: EphemeralPlatform, revisions: list[bytes], stage: int
) -> None:
    reader = PdfFileReader(io.BytesIO(revisions[stage]), strict=True)
    for sig in reader.embedded_signatures:
        if sig.sig_object_type == "/DocTimeStamp":
            status = validate_pdf_timestamp(sig, validation_context=_vc(platform))
        else:
            status = validate_pdf_signature(sig, _vc(platform), _vc(platform))
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
        assert status.modification_level is not None
        assert status.modification_level <= ModificationLevel.FORM_FILLING
        assert status.docmdp_ok is not False


def test_pyhanko_lta_validation_of_final_file(
    platform: EphemeralPlatform, revisions: list[bytes]
) -> None:
    """ETSI EN 319 102-1 long-term validation (pyHanko's ades_lta_validation) passes for
    every signature, using only what is embedded in the file (no network)."""
    reader = PdfFileReader(io.BytesIO(revisions[-1]), strict=True)
    spec = helpers.lta_validation_spec(platform)
    for sig in reader.embedded_signatures:
        if sig.sig_object_type == "/DocTimeStamp":
            continue
        result = asyncio.run(ades_lta_validation(sig, spec))
        assert result.ades_subindic.status == AdESStatus.PASSED, (
            f"{sig.field_name}: {result.ades_subindic}"
        )


pdfsig_missing = not pdfsig.available()


@pytest.mark.skipif(pdfsig_missing, reason="poppler-utils / libnss3-tools / gcc not installed")
@pytest.mark.parametrize("stage", range(len(STAGES)), ids=STAGES)
def test_pdfsig_trusts_every_revision(
    platform: EphemeralPlatform, revisions: list[bytes], stage: int, tmp_path: Path
) -> None:
    db = pdfsig.nss_db(tmp_path, [pki.certificate_pem(platform.pki.root.certificate)])
    pdf = tmp_path / "contract.pdf"
    pdf.write_bytes(revisions[stage])
    result = pdfsig.run_pdfsig(pdf, db, tmp_path)
    pdfsig.assert_all_trusted(result)


@pytest.mark.skipif(pdfsig_missing, reason="poppler-utils / libnss3-tools / gcc not installed")
def test_pdfsig_sees_the_cross_page_seal_as_one_valid_signature(
    platform: EphemeralPlatform, revisions: list[bytes], tmp_path: Path
) -> None:
    db = pdfsig.nss_db(tmp_path, [pki.certificate_pem(platform.pki.root.certificate)])
    pdf = tmp_path / "contract.pdf"
    pdf.write_bytes(revisions[-1])
    result = pdfsig.run_pdfsig(pdf, db, tmp_path)
    slices = [s for s in result.signatures if s.field_name == "supplier-cps"]
    assert len(slices) == 1, result.output
    assert slices[0].signature_valid and not slices[0].unsigned, result.output
    assert not any(s.unsigned for s in result.signatures), result.output


def test_cross_page_seal_is_one_field_with_a_widget_per_page(revisions: list[bytes]) -> None:
    reader = PdfFileReader(io.BytesIO(revisions[-1]), strict=True)
    (sig,) = [s for s in reader.embedded_signatures if s.field_name == "supplier-cps"]
    widgets = [kid.get_object() for kid in sig.sig_field["/Kids"]]
    pages = [reader.root["/Pages"]["/Kids"].index(w.raw_get("/P")) for w in widgets]
    assert pages == [0, 1, 2]
    for widget in widgets:
        assert "/N" in widget["/AP"], "every slice has its appearance"


@pytest.mark.skipif(pdfsig_missing, reason="poppler-utils / libnss3-tools / gcc not installed")
def test_pdfsig_rejects_an_untrusted_root(revisions: list[bytes], tmp_path: Path) -> None:
    stranger = EphemeralPlatform()
    db = pdfsig.nss_db(tmp_path, [pki.certificate_pem(stranger.pki.root.certificate)])
    pdf = tmp_path / "contract.pdf"
    pdf.write_bytes(revisions[1])
    result = pdfsig.run_pdfsig(pdf, db, tmp_path)
    assert result.signatures and not any(s.trusted for s in result.signatures), result.output


def _red_fraction(img: Image.Image, box: tuple[int, int, int, int]) -> float:
    region = img.crop(box).convert("RGB")
    pixels = list(region.get_flattened_data())
    red = sum(1 for r, g, b in pixels if r > 150 and g < 110 and b < 110)
    return red / max(1, len(pixels))


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils not installed")
def test_rendered_pages_show_stamps_where_declared(
    revisions: list[bytes], artifacts_dir: Path, tmp_path: Path
) -> None:
    """Render the final file (artefact for people to look at) and check where the ink is."""
    pdf = tmp_path / "final.pdf"
    pdf.write_bytes(revisions[-1])
    out_dir = artifacts_dir / "contract-flow"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "final.pdf").write_bytes(revisions[-1])
    dpi = 72  # one pixel per PDF point: page coordinates map directly
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(out_dir / "page")], check=True
    )
    pages = sorted(out_dir.glob("page-*.png"))
    assert len(pages) == 3
    for index, path in enumerate(pages):
        img = Image.open(path)
        width, height = img.size
        # Cross-page slice: a 40 pt strip (120 pt seal / 3 pages) flush with the right edge,
        # centred vertically.
        strip = (width - 40, height // 2 - 60, width, height // 2 + 60)
        assert _red_fraction(img, strip) > 0.02, f"no seal slice on page {index + 1}"
        # Nothing red elsewhere on the left half of pages without seals.
        if index < 2:
            assert _red_fraction(img, (0, 0, width // 2, height)) < 0.001
    last = Image.open(pages[-1])
    height = last.size[1]

    def box(x1: float, y1: float, x2: float, y2: float) -> tuple[int, int, int, int]:
        return (int(x1), int(height - y2), int(x2), int(height - y1))

    assert _red_fraction(last, box(70, 160, 190, 280)) > 0.05  # supplier seal
    assert _red_fraction(last, box(340, 160, 460, 280)) > 0.05  # tendering office seal
    dark = last.crop(box(60, 90, 210, 150)).convert("L")
    assert min(dark.get_flattened_data()) < 80  # the handwritten-style signature is there
