"""Corpus files about file structure: legitimate shapes that must not be called "invalid".

Linearized files, DSS/VRI rewrites, freed objects, a choice field's /I change, hybrid-reference
cross-reference data, indirect /Kids and a bogus signature field next to a good signature.
"""

from __future__ import annotations

import io
import re

import pikepdf
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore

from qianshu.signing import documents
from qianshu.signing.ephemeral import EphemeralPlatform
from tests.signing import helpers
from tests.signing.corpus import rawpdf, trust_files


def _save(pdf: pikepdf.Pdf, **kwargs: object) -> bytes:
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True, **kwargs)  # type: ignore[arg-type]
    return out.getvalue()


def _sign_field(data: bytes, field: str, platform: EphemeralPlatform, name: str) -> bytes:
    """Sign an existing field the way another product would: stock pyHanko, no appearance."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    meta = signers.PdfSignatureMetadata(
        field_name=field, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    out = io.BytesIO()
    signers.PdfSigner(
        meta, platform.person_signer(name), timestamper=platform.timestamper
    ).sign_pdf(writer, output=out)
    return out.getvalue()


# --- linearized -------------------------------------------------------------------------------


def linearized_then_signed(platform: EphemeralPlatform) -> bytes:
    """A linearized (fast web view) PDF, then prepared, signed and finished incrementally."""
    with pikepdf.open(io.BytesIO(helpers.make_pdf(2))) as pdf:
        linearized = _save(pdf, linearize=True)
    doc = helpers.signed_document(platform, pdf=linearized)
    assert doc.finished is not None
    return doc.finished


def linearized_signed_in_place(platform: EphemeralPlatform) -> bytes:
    """A signature written inside the linearized file itself (signed while saving).

    The file's last ``startxref`` points to the first-page cross-reference section at the
    start of the file; the main section and its trailer come at the end.
    """
    with pikepdf.open(io.BytesIO(helpers.make_pdf(2))) as pdf:
        sig = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Sig,
                Filter=pikepdf.Name("/Adobe.PPKLite"),
                SubFilter=pikepdf.Name("/ETSI.CAdES.detached"),
                ByteRange=pikepdf.Array([0, 9999999999, 9999999999, 9999999999]),
                Contents=pikepdf.String(bytes(6000)),
            )
        )
        widget = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Widget,
                FT=pikepdf.Name.Sig,
                T=pikepdf.String("Signature1"),
                V=sig,
                Rect=[0, 0, 0, 0],
                F=132,
                P=pdf.pages[0].obj,
            )
        )
        pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([widget]))
        pdf.Root.AcroForm = pdf.make_indirect(
            pikepdf.Dictionary(Fields=pikepdf.Array([widget]), SigFlags=3)
        )
        data = _save(
            pdf,
            linearize=True,
            object_stream_mode=pikepdf.ObjectStreamMode.disable,
            compress_streams=False,
        )
    assert rawpdf.PLACEHOLDER_RANGE in data
    return rawpdf.fill_signature_in_place(
        data, platform.person_signer("Linus"), platform.timestamper
    )


# --- DSS/VRI rewrites and freed objects -------------------------------------------------------


def _finished(platform: EphemeralPlatform) -> bytes:
    data = helpers.signed_document(platform).finished
    assert data is not None
    return data


def _dss(
    writer: IncrementalPdfFileWriter,
) -> tuple[generic.IndirectObject, generic.DictionaryObject]:
    ref = writer.root.raw_get("/DSS")
    assert isinstance(ref, generic.IndirectObject)
    return ref, ref.get_object()


def _vri_key(writer: IncrementalPdfFileWriter, field: str) -> str:
    import hashlib

    for sig in writer.prev.embedded_signatures:
        if sig.field_name == field:
            contents = sig.sig_object["/Contents"]
            return "/" + hashlib.sha1(bytes(contents)).hexdigest().upper()
    raise AssertionError(f"no signature in field {field!r}")


def dss_vri_rewrite(platform: EphemeralPlatform) -> bytes:
    """Validation data with /VRI entries, a document time-stamp over it, then an update that
    rewrites a VRI entry and writes the DSS arrays out again.

    Validation-related information only; pages, fields and signatures stay as signed.
    pyHanko's DSS rule refuses a changed VRI entry ("VRI key ... was modified").
    """
    signed = helpers.signed_document(platform, finished=False).signed
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    reader = writer.prev
    certs, ocsps, crls = documents.collect_validation_data(
        [*trust_files.signature_certs(reader), *platform.trust_roots], platform.revocation
    )
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        None,
        certs=certs,
        ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in ocsps],
        crls=[asn1_crl.CertificateList.load(c) for c in crls],
    )
    dss_ref, dss = _dss(writer)
    vri = generic.DictionaryObject()
    for field in (helpers.PERSON_FIELD, helpers.SEAL_FIELD):
        vri[pdf_name(_vri_key(writer, field))] = writer.add_object(
            generic.DictionaryObject({pdf_name("/Cert"): dss.raw_get("/Certs")})
        )
    dss[pdf_name("/VRI")] = writer.add_object(vri)
    writer.mark_update(dss_ref)
    out = io.BytesIO()
    PdfTimeStamper(platform.timestamper, field_name="QS-DocTimeStamp").timestamp_pdf(
        writer, "sha256", output=out
    )
    stamped = out.getvalue()

    writer = IncrementalPdfFileWriter(io.BytesIO(stamped))
    dss_ref, dss = _dss(writer)
    vri_ref = dss.raw_get("/VRI")
    vri = vri_ref.get_object()
    vri[pdf_name(_vri_key(writer, helpers.PERSON_FIELD))] = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Cert"): dss.raw_get("/Certs"),
                pdf_name("/OCSP"): dss.raw_get("/OCSPs"),
                pdf_name("/TU"): generic.TextStringObject("D:20250101000000Z"),
            }
        )
    )
    writer.mark_update(vri_ref)
    for key in ("/Certs", "/OCSPs", "/CRLs"):
        if key in dss:
            dss[pdf_name(key)] = generic.ArrayObject(list(dss.raw_get(key).get_object()))
    writer.mark_update(dss_ref)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def freed_objects(platform: EphemeralPlatform) -> bytes:
    """After B-LTA: the DSS moves to a new object, then an update frees the old one.

    The freed object is no longer used anywhere; xref "f" entries are how editors say so.
    """
    data = _finished(platform)
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    old_ref, dss = _dss(writer)
    writer.root[pdf_name("/DSS")] = writer.add_object(generic.DictionaryObject(dict(dss)))
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    moved = out.getvalue()
    return rawpdf.append_update(moved, {}, freed=[(old_ref.idnum, old_ref.generation)])


def freed_object_in_use(platform: EphemeralPlatform) -> bytes:
    """Negative control: an update frees the page's content stream (the page goes blank)."""
    data = _finished(platform)
    content = helpers.page_content_object(data, 0)
    return rawpdf.append_update(data, {}, freed=[(content, 0)])


# --- a choice field's selection index ---------------------------------------------------------


def _choice_appearance(pdf: pikepdf.Pdf, font: pikepdf.Object, text: bytes) -> pikepdf.Object:
    return pdf.make_stream(
        b"/Tx BMC q BT /Helv 12 Tf 2 6 Td (" + text + b") Tj ET Q EMC",
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Form,
        BBox=[0, 0, 120, 24],
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=font)),
    )


def _with_choice_field() -> bytes:
    with pikepdf.open(io.BytesIO(helpers.make_pdf(1))) as pdf:
        font = pdf.pages[0].Resources.Font.F1
        widget = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Widget,
                FT=pikepdf.Name.Ch,
                Ff=131072,  # combo box
                T=pikepdf.String("delivery"),
                Opt=pikepdf.Array([pikepdf.String("Air"), pikepdf.String("Sea")]),
                V=pikepdf.String("Air"),
                I=pikepdf.Array([0]),
                DA=pikepdf.String("/Helv 12 Tf 0 g"),
                Rect=[72, 640, 192, 664],
                F=4,
                P=pdf.pages[0].obj,
                AP=pikepdf.Dictionary(N=_choice_appearance(pdf, font, b"Air")),
            )
        )
        pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([widget]))
        pdf.Root.AcroForm = pdf.make_indirect(
            pikepdf.Dictionary(
                Fields=pikepdf.Array([widget]),
                DA=pikepdf.String("/Helv 12 Tf 0 g"),
                DR=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=font)),
            )
        )
        return _save(
            pdf,
            object_stream_mode=pikepdf.ObjectStreamMode.disable,
            compress_streams=False,
        )


def choice_index_change(platform: EphemeralPlatform) -> bytes:
    """A third-party form with a combo box, signed; then the choice changes (/V, /I, /AP)."""
    prepared = helpers.prepare(platform, _with_choice_field())
    signed, _ = helpers.sign_person(platform, prepared)

    def choose_sea(writer: IncrementalPdfFileWriter) -> None:
        helpers.set_text_field(writer, "delivery", "Sea")  # value and appearance
        for ref in writer.root["/AcroForm"].raw_get("/Fields"):
            if ref.get_object().get("/T") == "delivery":
                ref.get_object()[pdf_name("/I")] = generic.ArrayObject([generic.NumberObject(1)])

    return helpers.incremental_update(signed, choose_sea)


# --- hybrid-reference files -------------------------------------------------------------------


_OBJ = re.compile(rb"(?<![0-9])(\d+) 0 obj")


def _hybrid(data: bytes, *, conflict: bool = False) -> bytes:
    """Turn a PDF with a cross-reference stream into a hybrid-reference file.

    A classic table listing the uncompressed objects is appended to the same revision, with
    ``/XRefStm`` pointing at the existing stream (which also lists the compressed ones).
    ``conflict`` adds a second definition of page 1's content that only the table uses.
    """
    stream_at = rawpdf.last_startxref(data)
    body = data[: data.rindex(b"startxref")]
    offsets = {int(m.group(1)): m.start() for m in _OBJ.finditer(body) if m.start() != stream_at}
    with pikepdf.open(io.BytesIO(data)) as pdf:
        size = int(pdf.trailer.Size)
        root, _ = pdf.trailer.Root.objgen
        content, _ = pdf.pages[0].Contents.objgen
    if conflict:
        # Another definition of page 1's text: the table points to it, the stream does not.
        text = b"BT /F1 18 Tf 72 760 Td (Contract page 1: the buyer pays 900 yuan) Tj ET"
        offsets[content] = len(body)
        body += b"%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (
            content,
            len(text),
            text,
        )
    table = bytearray(b"xref\n0 1\n0000000000 65535 f\r\n")
    for number in sorted(offsets):
        table += b"%d 1\n%010d 00000 n\r\n" % (number, offsets[number])
    trailer = b"trailer\n<< /Size %d /Root %d 0 R /XRefStm %d >>\n" % (size, root, stream_at)
    return body + bytes(table) + trailer + b"startxref\n%d\n%%%%EOF\n" % len(body)


def hybrid_reference(platform: EphemeralPlatform, *, conflict: bool = False) -> bytes:
    """A hybrid-reference file (classic table + /XRefStm), signed by a lenient third party."""
    with pikepdf.open(io.BytesIO(helpers.make_pdf(2))) as pdf:
        streams = _save(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    writer = IncrementalPdfFileWriter(io.BytesIO(_hybrid(streams, conflict=conflict)), strict=False)
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1", subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    out = io.BytesIO()
    signers.PdfSigner(
        meta, platform.person_signer("Hu Bo"), timestamper=platform.timestamper
    ).sign_pdf(writer, output=out)
    return out.getvalue()


def hybrid_reference_conflict(platform: EphemeralPlatform) -> bytes:
    """A hybrid-reference file whose table and stream disagree about the catalog."""
    return hybrid_reference(platform, conflict=True)


# --- indirect /Kids and a bogus signature field -----------------------------------------------


def _with_indirect_kids() -> bytes:
    """Two empty signature fields under a parent field whose /Kids is an indirect array."""
    with pikepdf.open(io.BytesIO(helpers.make_pdf(1))) as pdf:
        page = pdf.pages[0].obj
        parent = pdf.make_indirect(pikepdf.Dictionary(T=pikepdf.String("parties")))
        kids = []
        for name, x in (("buyer", 60), ("seller", 320)):
            kids.append(
                pdf.make_indirect(
                    pikepdf.Dictionary(
                        Type=pikepdf.Name.Annot,
                        Subtype=pikepdf.Name.Widget,
                        FT=pikepdf.Name.Sig,
                        T=pikepdf.String(name),
                        Parent=parent,
                        Rect=[x, 60, x + 160, 120],
                        F=4,
                        P=page,
                    )
                )
            )
        parent.Kids = pdf.make_indirect(pikepdf.Array(kids))
        pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array(kids))
        pdf.Root.AcroForm = pdf.make_indirect(
            pikepdf.Dictionary(Fields=pikepdf.Array([parent]), SigFlags=3)
        )
        return _save(pdf, object_stream_mode=pikepdf.ObjectStreamMode.disable)


def indirect_kids(platform: EphemeralPlatform) -> bytes:
    """Both parties sign fields reached through an indirect /Kids array."""
    data = _sign_field(_with_indirect_kids(), "parties.buyer", platform, "Buyer")
    return _sign_field(data, "parties.seller", platform, "Seller")


def _signature_value(
    writer: IncrementalPdfFileWriter, byte_range: tuple[int, ...], contents: bytes
) -> generic.IndirectObject:
    """A PAdES signature dictionary with the given /ByteRange and /Contents."""
    return writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Sig"),
                pdf_name("/Filter"): pdf_name("/Adobe.PPKLite"),
                pdf_name("/SubFilter"): pdf_name("/ETSI.CAdES.detached"),
                pdf_name("/ByteRange"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in byte_range]
                ),
                pdf_name("/Contents"): generic.ByteStringObject(contents),
            }
        )
    )


def bogus_field_beside_good(platform: EphemeralPlatform) -> bytes:
    """A good signature, then a second /Sig field whose value is not a usable signature."""
    prepared = helpers.prepare(platform, helpers.make_pdf())
    signed, _ = helpers.sign_person(platform, prepared)
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    value = _signature_value(writer, (0, 10, 20, 5), bytes.fromhex("3082ffff0000"))
    for ref in writer.root["/AcroForm"].raw_get("/Fields"):
        field = ref.get_object()
        if field.get("/T") == helpers.SEAL_FIELD:
            field[pdf_name("/V")] = value
            writer.mark_update(ref)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- one signature, one widget per page (a cross-page seal) -----------------------------------


def _with_multi_widget_field(pages: int = 2) -> bytes:
    """A signature field "cps" with a widget on the right edge of every page, each showing a
    slice of a seal (as painted when the field is filled; declared before signing)."""
    with pikepdf.open(io.BytesIO(helpers.make_pdf(pages))) as pdf:
        parent = pdf.make_indirect(pikepdf.Dictionary(FT=pikepdf.Name.Sig, T=pikepdf.String("cps")))
        kids = []
        for page in pdf.pages:
            widget = pdf.make_indirect(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Annot,
                    Subtype=pikepdf.Name.Widget,
                    Parent=parent,
                    Rect=[555, 400, 595, 520],
                    F=4,
                    P=page.obj,
                )
            )
            page.Annots = pdf.make_indirect(pikepdf.Array([widget]))
            kids.append(widget)
        parent.Kids = pikepdf.Array(kids)
        pdf.Root.AcroForm = pdf.make_indirect(
            pikepdf.Dictionary(Fields=pikepdf.Array([parent]), SigFlags=3)
        )
        return _save(pdf, object_stream_mode=pikepdf.ObjectStreamMode.disable)


def multi_widget_signature(platform: EphemeralPlatform) -> bytes:
    """Certified with the field declared, then one seal signature painting every widget.

    pyHanko signs only single-widget fields, so the signature value is written by hand: an
    incremental update with the appearances and a placeholder signature, then filled in.
    """
    prepared = documents.prepare_document(
        _with_multi_widget_field(),
        [],
        certifier=platform.certifier,
        timestamper=platform.timestamper,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(prepared))
    placeholder = (0, 9999999999, 9999999999, 9999999999)
    value = _signature_value(writer, placeholder, bytes(8000))
    for ref in writer.root["/AcroForm"].raw_get("/Fields"):
        field = ref.get_object()
        if field.get("/T") != "cps":
            continue
        field[pdf_name("/V")] = value
        writer.mark_update(ref)
        for kid in field.raw_get("/Kids"):
            appearance = writer.add_object(
                generic.StreamObject(
                    {
                        pdf_name("/Type"): pdf_name("/XObject"),
                        pdf_name("/Subtype"): pdf_name("/Form"),
                        pdf_name("/BBox"): generic.ArrayObject(
                            [generic.NumberObject(v) for v in (0, 0, 40, 120)]
                        ),
                    },
                    stream_data=b"q 0.86 0 0 RG 4 w 2 2 36 116 re S Q",
                )
            )
            kid.get_object()[pdf_name("/AP")] = generic.DictionaryObject(
                {pdf_name("/N"): appearance}
            )
            writer.mark_update(kid)
    out = io.BytesIO()
    writer.write(out)
    signer = platform.seal_signer("Acme Ltd", helpers.CREDIT_CODE, "Cross-page seal")
    return rawpdf.fill_signature_in_place(out.getvalue(), signer, platform.timestamper)
