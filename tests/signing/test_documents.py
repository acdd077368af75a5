"""Field declaration, signing turns and their error cases."""

from __future__ import annotations

import io

import pikepdf
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from qianshu.signing import documents, stamps
from qianshu.signing.documents import FieldSpec, Placement
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.errors import FieldError, ImageError, PdfError, SignatureError
from qianshu.signing.pdfio import open_incremental
from qianshu.signing.samples import make_test_pdf
from qianshu.signing.stamps import Rect, StampImage
from qianshu.signing.verify import verify_pdf


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return EphemeralPlatform()


@pytest.fixture(scope="module")
def image() -> StampImage:
    return StampImage.from_png(stamps.render_text_image("签名"))


def _offset_pdf() -> bytes:
    """Two pages whose visible area does not start at the origin."""
    pdf = pikepdf.new()
    for _ in range(2):
        pdf.add_blank_page(page_size=(700, 900))
    for page in pdf.pages:
        page.obj.CropBox = pikepdf.Array([100, 50, 695.28, 891.89])
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_page_boxes_follow_the_crop_box() -> None:
    boxes = documents.page_boxes(_offset_pdf())
    assert boxes == [Rect(100, 50, 695.28, 891.89)] * 2
    a4 = documents.page_boxes(make_test_pdf(pages=1))[0]
    assert (round(a4.width, 2), round(a4.height, 2)) == (595.28, 841.89)


def test_cross_page_slices_sit_on_the_right_edge_and_add_up() -> None:
    boxes = documents.page_boxes(_offset_pdf())
    slices = stamps.cross_page_slices(boxes, [0, 1], seal_size_pt=120)
    assert [p for p, _ in slices] == [0, 1]
    for _, rect in slices:
        assert rect.x2 == pytest.approx(695.28)
        assert rect.width == pytest.approx(60)
        assert rect.height == pytest.approx(120)
        assert (rect.y1 + rect.y2) / 2 == pytest.approx((50 + 891.89) / 2)
    low = stamps.cross_page_slices(boxes, [0, 1], seal_size_pt=120, center_y_pt=0)
    assert low[0][1].y1 == pytest.approx(50)  # clamped inside the page
    with pytest.raises(ImageError):
        stamps.cross_page_slices(boxes, [0], seal_size_pt=120)
    with pytest.raises(ImageError):
        stamps.cross_page_slices(boxes, [0, 0], seal_size_pt=120)
    with pytest.raises(ImageError):
        stamps.cross_page_slices(boxes, [0, 5], seal_size_pt=120)


def test_slices_of_an_image_cover_it_exactly(image: StampImage) -> None:
    parts = stamps.slice_image(image, 3)
    assert sum(p.width for p in parts) == image.width
    assert {p.height for p in parts} == {image.height}


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (
            [
                FieldSpec("a", 0, Rect(200, 200, 300, 260)),
                FieldSpec("a", 1, Rect(200, 200, 300, 260)),
            ],
            "declared twice",
        ),
        ([FieldSpec("a", 3, Rect(10, 10, 100, 60))], "missing"),
        ([FieldSpec("a", 0, Rect(10, 10, 100, 60))], "outside"),  # left of the crop box
        ([FieldSpec("a", 0, Rect(600, 800, 750, 950))], "outside"),
        ([FieldSpec("a", 0, Rect(200, 200, 200.5, 260))], "too small"),
        ([FieldSpec("bad.name", 0, Rect(200, 200, 300, 260))], "invalid field name"),
        ([FieldSpec("签名", 0, Rect(200, 200, 300, 260))], "invalid field name"),
        ([FieldSpec(documents.CERTIFICATION_FIELD, 0, Rect(200, 200, 300, 260))], "twice"),
    ],
)
def test_bad_field_declarations(
    platform: EphemeralPlatform, specs: list[FieldSpec], message: str
) -> None:
    with pytest.raises(FieldError, match=message):
        documents.prepare_document(
            _offset_pdf(), specs, certifier=platform.certifier, timestamper=None
        )


def test_sign_turn_errors(platform: EphemeralPlatform, image: StampImage) -> None:
    prepared = documents.prepare_document(
        make_test_pdf(pages=1),
        [FieldSpec("a", 0, Rect(60, 60, 200, 120)), FieldSpec("b", 0, Rect(300, 60, 440, 120))],
        certifier=platform.certifier,
        timestamper=platform.timestamper,
    )
    signer = platform.person_signer("甲")
    ts = platform.timestamper
    with pytest.raises(FieldError, match="nothing to sign"):
        documents.sign_turn(prepared, [], signer=signer, timestamper=ts)
    with pytest.raises(FieldError, match="not declared"):
        documents.sign_turn(prepared, [Placement("zzz", image)], signer=signer, timestamper=ts)
    with pytest.raises(FieldError, match="placed twice"):
        documents.sign_turn(
            prepared,
            [Placement("a", image), Placement("a", image)],
            signer=signer,
            timestamper=ts,
        )
    signed = documents.sign_turn(prepared, [Placement("a", image)], signer=signer, timestamper=ts)
    assert documents.signature_fields(signed) == {
        documents.CERTIFICATION_FIELD: True,
        "a": True,
        "b": False,
    }
    with pytest.raises(FieldError, match="already signed"):
        documents.sign_turn(signed, [Placement("a", image)], signer=signer, timestamper=ts)
    with pytest.raises(PdfError):
        documents.sign_turn(b"not a pdf", [Placement("a", image)], signer=signer, timestamper=ts)


def test_fields_declared_without_certification(
    platform: EphemeralPlatform, image: StampImage
) -> None:
    declared = documents.declare_fields(
        make_test_pdf(pages=1), [FieldSpec("only", 0, Rect(60, 60, 200, 120))]
    )
    assert documents.signature_fields(declared) == {"only": False}
    signed = documents.sign_turn(
        declared,
        [Placement("only", image)],
        signer=platform.person_signer("乙"),
        timestamper=platform.timestamper,
    )
    report = verify_pdf(signed, platform.trust)
    assert report.verdict == "valid", report.reason
    assert report.signatures[0].kind == "signature"
    assert report.signatures[0].pades_level == "B-T"


def test_untimestamped_signature_is_b_b(platform: EphemeralPlatform, image: StampImage) -> None:
    declared = documents.declare_fields(
        make_test_pdf(pages=1), [FieldSpec("only", 0, Rect(60, 60, 200, 120))]
    )
    signed = documents.sign_turn(
        declared,
        [Placement("only", image)],
        signer=platform.person_signer("丙"),
        timestamper=None,
    )
    report = verify_pdf(signed, platform.trust)
    assert report.verdict == "valid"
    assert report.signatures[0].pades_level == "B-B"
    assert report.signatures[0].signing_time_source == "claimed"


def test_finish_refuses_an_unsigned_document(platform: EphemeralPlatform) -> None:
    from qianshu.signing.errors import SignatureError

    with pytest.raises(SignatureError):
        documents.finish_document(
            make_test_pdf(pages=1),
            timestamper=platform.timestamper,
            revocation=platform.revocation,
            trust_roots=platform.trust_roots,
        )


def _certification_objects(data: bytes) -> dict[str, object]:
    """What a certification adds, with values that differ from signature to signature (its
    bytes, time, and the numbers of new objects) left out: the field, its signature dictionary
    with the DocMDP reference, the catalog's /Perms, the form's flags and the extensions."""

    def plain(value: object, depth: int = 0) -> object:
        if depth > 6:
            return "…"
        if isinstance(value, pikepdf.Dictionary):
            skip = {"/Contents", "/ByteRange", "/M", "/P", "/Parent", "/Data"}
            return {k: plain(value[k], depth + 1) for k in sorted(value.keys()) if k not in skip}
        if isinstance(value, pikepdf.Array):
            return [plain(v, depth + 1) for v in value]
        return str(value)

    with pikepdf.open(io.BytesIO(data)) as pdf:
        root = pdf.Root
        field = next(f for f in root.AcroForm.Fields if str(f.T) == documents.CERTIFICATION_FIELD)
        assert root.Perms.DocMDP.objgen == field.V.objgen
        assert field.P.objgen == pdf.pages[0].obj.objgen
        assert any(a.objgen == field.objgen for a in pdf.pages[0].obj.Annots)
        return {
            "field": plain(field),
            "form": plain({k: v for k, v in root.AcroForm.items() if k != "/Fields"}),
            "extensions": plain(root.get("/Extensions", pikepdf.Dictionary())),
            "version": pdf.pdf_version,
        }


def test_the_certification_is_the_one_pyhankos_signer_makes(platform: EphemeralPlatform) -> None:
    source = make_test_pdf(pages=2)
    specs = [FieldSpec("a", 1, Rect(60, 60, 200, 120))]
    details = documents.SignatureDetails(reason="Qianshu: document prepared for signing")
    ours = documents.prepare_document(
        source, specs, certifier=platform.certifier, timestamper=platform.timestamper
    )
    meta = signers.PdfSignatureMetadata(
        field_name=documents.CERTIFICATION_FIELD,
        certify=True,
        docmdp_permissions=MDPPerm.FILL_FORMS,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=details.reason,
    )
    writer = documents._declare(source, specs)
    theirs = (
        signers.PdfSigner(meta, signer=platform.certifier, timestamper=platform.timestamper)
        .sign_pdf(writer, existing_fields_only=False)
        .getvalue()
    )
    assert _certification_objects(ours) == _certification_objects(theirs)
    assert ours.startswith(source)
    context = ValidationContext(trust_roots=platform.trust_roots, allow_fetching=False)
    embedded = PdfFileReader(io.BytesIO(ours)).embedded_signatures[0]
    assert embedded.docmdp_level == MDPPerm.FILL_FORMS
    status = validate_pdf_signature(embedded, context, context)
    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    assert status.timestamp_validity is not None and status.timestamp_validity.valid
    assert verify_pdf(ours, platform.trust).verdict == "valid"
    # Both refuse to certify a document that has a signature already.
    signed = documents.sign_turn(
        documents.declare_fields(source, [FieldSpec("s", 0, Rect(60, 60, 200, 120))]),
        [Placement("s", StampImage.from_png(stamps.render_text_image("甲")))],
        signer=platform.person_signer("甲"),
        timestamper=None,
    )
    with pytest.raises(SignatureError, match="first signature"):
        documents.prepare_document(signed, [], certifier=platform.certifier, timestamper=None)
    with pytest.raises(PyhankoSigningError, match="first signature"):
        signers.PdfSigner(meta, signer=platform.certifier).sign_pdf(
            open_incremental(signed), existing_fields_only=False
        )
