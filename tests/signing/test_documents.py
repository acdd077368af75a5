"""Field declaration, signing turns and their error cases."""

from __future__ import annotations

import io
from typing import Any

import pikepdf
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import (
    FieldMDPAction,
    FieldMDPSpec,
    MDPPerm,
    SigFieldSpec,
    SigSeedSubFilter,
)
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
from tests.signing.corpus import structure_files


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


def _platform_field_objects(data: bytes, name: str) -> dict[str, object]:
    """What a platform signature in field ``name`` adds, with values that differ from
    signature to signature (its bytes, time, and the numbers of new objects) left out: the
    field with its /Lock, its signature dictionary with the DocMDP or FieldMDP reference, the
    catalog's /Perms, the form's flags and the extensions."""

    def plain(value: object, depth: int = 0) -> object:
        if depth > 6:
            return "…"
        if isinstance(value, pikepdf.Dictionary):
            if value.get("/Type") in ("/Page", "/Catalog"):
                return str(value.get("/Type"))  # the field's page, a reference's /Data
            skip = {"/Contents", "/ByteRange", "/M", "/Parent"}
            return {k: plain(value[k], depth + 1) for k in sorted(value.keys()) if k not in skip}
        if isinstance(value, pikepdf.Array):
            return [plain(v, depth + 1) for v in value]
        return str(value)

    with pikepdf.open(io.BytesIO(data)) as pdf:
        root = pdf.Root
        field = next(f for f in root.AcroForm.Fields if str(f.T) == name)
        assert field.P.objgen == pdf.pages[0].obj.objgen
        assert any(a.objgen == field.objgen for a in pdf.pages[0].obj.Annots)
        perms = root.get("/Perms")
        return {
            "field": plain(field),
            "perms": {k: v.objgen == field.V.objgen for k, v in perms.items()} if perms else {},
            "form": plain({k: v for k, v in root.AcroForm.items() if k != "/Fields"}),
            "extensions": plain(root.get("/Extensions", pikepdf.Dictionary())),
            "version": str(root.get("/Version")),
        }


def _pyhankos_signature(
    platform: EphemeralPlatform, writer: Any, name: str, permissions: MDPPerm, *, certify: bool
) -> bytes:
    """The platform signature as pyHanko's high-level signer makes it."""
    meta = signers.PdfSignatureMetadata(
        field_name=name,
        certify=certify,
        docmdp_permissions=permissions,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason="Qianshu",
    )
    pdf_signer = signers.PdfSigner(
        meta, signer=platform.certifier, timestamper=platform.timestamper
    )
    return pdf_signer.sign_pdf(writer, existing_fields_only=False).getvalue()


def _pyhanko_accepts(platform: EphemeralPlatform, data: bytes, index: int) -> Any:
    context = ValidationContext(trust_roots=platform.trust_roots, allow_fetching=False)
    embedded = PdfFileReader(io.BytesIO(data)).embedded_signatures[index]
    status = validate_pdf_signature(embedded, context, context)
    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    assert status.timestamp_validity is not None and status.timestamp_validity.valid
    assert status.docmdp_ok is not False
    return embedded


def test_the_platform_signatures_are_the_ones_pyhankos_signer_makes(
    platform: EphemeralPlatform,
) -> None:
    """The certification and the completion lock go through pyHanko's CMS embedding protocol:
    the same objects as its high-level signer makes, accepted by it and by our verifier."""
    source = make_test_pdf(pages=2)
    specs = [FieldSpec("a", 1, Rect(60, 60, 200, 120))]
    details = documents.SignatureDetails(reason="Qianshu")
    certified = documents.prepare_document(
        source,
        specs,
        certifier=platform.certifier,
        timestamper=platform.timestamper,
        details=details,
    )
    theirs = _pyhankos_signature(
        platform,
        documents._declare(source, specs),
        documents.CERTIFICATION_FIELD,
        MDPPerm.FILL_FORMS,
        certify=True,
    )
    name = documents.CERTIFICATION_FIELD
    assert _platform_field_objects(certified, name) == _platform_field_objects(theirs, name)
    assert certified.startswith(source)
    assert _pyhanko_accepts(platform, certified, 0).docmdp_level == MDPPerm.FILL_FORMS
    assert verify_pdf(certified, platform.trust).verdict == "valid"

    image = StampImage.from_png(stamps.render_text_image("甲"))
    signed = documents.sign_turn(
        certified,
        [Placement("a", image)],
        signer=platform.person_signer("甲"),
        timestamper=platform.timestamper,
    )
    locked = documents.lock_document(
        signed, signer=platform.certifier, timestamper=platform.timestamper, details=details
    )
    writer = open_incremental(signed)
    lock = FieldMDPSpec(FieldMDPAction.ALL)
    fields.append_signature_field(
        writer,
        SigFieldSpec(
            documents.COMPLETION_FIELD, field_mdp_spec=lock, doc_mdp_update_value=MDPPerm.NO_CHANGES
        ),
    )
    theirs = _pyhankos_signature(
        platform, writer, documents.COMPLETION_FIELD, MDPPerm.NO_CHANGES, certify=False
    )
    name = documents.COMPLETION_FIELD
    assert _platform_field_objects(locked, name) == _platform_field_objects(theirs, name)
    assert locked.startswith(signed)
    assert _pyhanko_accepts(platform, locked, 2).field_name == name
    assert verify_pdf(locked, platform.trust).verdict == "valid"


def test_platform_signatures_refused_where_pyhankos_signer_refuses(
    platform: EphemeralPlatform,
) -> None:
    """No certification of a signed document; no lock on a document certified with "no
    changes" (pyHanko's signer refuses both)."""
    image = StampImage.from_png(stamps.render_text_image("甲"))
    source = make_test_pdf(pages=1)
    signed = documents.sign_turn(
        documents.declare_fields(source, [FieldSpec("s", 0, Rect(60, 60, 200, 120))]),
        [Placement("s", image)],
        signer=platform.person_signer("甲"),
        timestamper=None,
    )
    with pytest.raises(SignatureError, match="first signature"):
        documents.prepare_document(signed, [], certifier=platform.certifier, timestamper=None)
    with pytest.raises(PyhankoSigningError, match="first signature"):
        _pyhankos_signature(
            platform, open_incremental(signed), "QS-X", MDPPerm.FILL_FORMS, certify=True
        )
    frozen = _pyhankos_signature(
        platform, open_incremental(source), "QS-X", MDPPerm.NO_CHANGES, certify=True
    )
    with pytest.raises(SignatureError, match="forbids any change"):
        documents.lock_document(frozen, signer=platform.certifier, timestamper=None)
    with pytest.raises(PyhankoSigningError, match="forbids all changes"):
        _pyhankos_signature(
            platform, open_incremental(frozen), "QS-Y", MDPPerm.NO_CHANGES, certify=False
        )


def test_platform_signatures_refuse_a_hybrid_reference_file(platform: EphemeralPlatform) -> None:
    """A hostile file whose classic table and cross-reference stream disagree (each reader
    sees other page content) is neither certified nor locked, as pyHanko's signer refused it."""
    with pikepdf.open(io.BytesIO(make_test_pdf(pages=1))) as pdf:
        out = io.BytesIO()
        pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    unsigned = structure_files._hybrid(out.getvalue(), conflict=True)
    specs = [FieldSpec("a", 0, Rect(60, 60, 200, 120))]
    with pytest.raises(SignatureError, match="hybrid"):
        documents.prepare_document(unsigned, specs, certifier=platform.certifier, timestamper=None)
    hostile = structure_files.hybrid_reference_conflict(platform)  # signed by a third party
    with pytest.raises(SignatureError, match="hybrid"):
        documents.lock_document(hostile, signer=platform.certifier, timestamper=None)
    with pytest.raises(PyhankoSigningError, match="hybrid"):
        _pyhankos_signature(
            platform, open_incremental(hostile), "QS-X", MDPPerm.NO_CHANGES, certify=False
        )
