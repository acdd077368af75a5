"""Hostile PDF documents for the ingest, seal-use and verifier tests.

Active content, form fields, attachments, encryption, a Flate decompression bomb, and
:func:`make_signed_pdf`, which signs a document with a throw-away self-signed key. Built on the
sample contract (:func:`qianshu.signing.samples.make_test_pdf`). Deterministic, except
:func:`make_encrypted_pdf` and :func:`make_signed_pdf`, whose salt, key and signature are random.
"""

from __future__ import annotations

import io
import zlib

import pikepdf

from qianshu.signing.samples import make_indirect, make_test_pdf, save_pdf

GIB = 1 << 30


def _open(data: bytes) -> pikepdf.Pdf:
    return pikepdf.open(io.BytesIO(data))


def _js(pdf: pikepdf.Pdf, script: str) -> pikepdf.Object:
    return make_indirect(pdf, f"<< /Type /Action /S /JavaScript /JS ({script}) >>")


def make_pdf_with_javascript() -> bytes:
    """A two-page test PDF full of active content.

    Document JavaScript (Names/JavaScript), a JavaScript /OpenAction, /AA on the catalog and a
    page, Link annotations with JavaScript, Launch, ``javascript:`` URI, GoToR and a plain https
    URI action, and an outline item whose JavaScript action is chained to a Launch by /Next.
    """
    pdf = _open(make_test_pdf(2))
    root, page = pdf.Root, pdf.pages[0].obj
    root.Names = make_indirect(pdf, "<< /JavaScript << /Names [(init)] >> >>")
    root.Names.JavaScript.Names.append(_js(pdf, "app.alert('hello from the document');"))
    root.OpenAction = _js(pdf, "this.print({bUI: false});")
    root.AA = make_indirect(pdf, "<< >>", WC=_js(pdf, "app.alert('closing');"))
    page.AA = make_indirect(pdf, "<< >>", O=_js(pdf, "app.alert('page open');"))
    actions = [
        "/S /JavaScript /JS (1+1)",
        "/S /Launch /F (cmd.exe)",
        "/S /URI /URI (javascript:alert\\(1\\))",
        "/S /GoToR /F (other.pdf) /D [0 /Fit]",
        "/S /URI /URI (https://example.com/terms)",
    ]
    page.Annots = pdf.make_indirect(
        pikepdf.Array(
            make_indirect(
                pdf,
                f"<< /Type /Annot /Subtype /Link /Rect [72 {y} 200 {y + 20}] /Border [0 0 0]"
                f" /A << {action} >> >>",
            )
            for y, action in zip(range(700, 500, -30), actions, strict=False)
        )
    )
    chained = _js(pdf, "app.alert('outline');")
    chained.Next = make_indirect(pdf, "<< /S /Launch /F (calc.exe) >>")
    item = make_indirect(pdf, "<< /Title (Clause 1) >>", A=chained)
    root.Outlines = item.Parent = make_indirect(
        pdf, "<< /Type /Outlines /Count 1 >>", First=item, Last=item
    )
    return save_pdf(pdf)


def make_pdf_with_attachments() -> bytes:
    """A test PDF with an embedded file (Names/EmbeddedFiles) and a FileAttachment annotation."""
    pdf = _open(make_test_pdf(1))
    payload = pdf.make_stream(b"MZ not really an executable", Type=pikepdf.Name.EmbeddedFile)
    specs = [
        make_indirect(
            pdf, f"<< /Type /Filespec /F ({name}) /UF ({name}) >>", EF=pikepdf.Dictionary(F=payload)
        )
        for name in ("invoice.exe", "payload.bin")
    ]
    pdf.Root.Names = make_indirect(pdf, "<< /EmbeddedFiles << /Names [(invoice.exe)] >> >>")
    pdf.Root.Names.EmbeddedFiles.Names.append(specs[0])
    icon = _form_xobject(pdf, b"0 0 1 rg 0 0 16 16 re f", (0, 0, 16, 16))
    annot = make_indirect(
        pdf,
        "<< /Type /Annot /Subtype /FileAttachment /Rect [300 500 316 516] >>",
        FS=specs[1],
        AP=pikepdf.Dictionary(N=icon),
    )
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([annot]))
    return save_pdf(pdf)


def _form_xobject(
    pdf: pikepdf.Pdf, content: bytes, rect: tuple[float, ...], **extra: object
) -> pikepdf.Object:
    width, height = rect[2] - rect[0], rect[3] - rect[1]
    bbox = [0, 0, width, height]
    return pdf.make_stream(
        content, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form, BBox=bbox, **extra
    )


#: Rectangles of the fields made by :func:`make_pdf_with_form_fields` (x1, y1, x2, y2).
TEXT_FIELD_RECT = (300.0, 600.0, 500.0, 630.0)
CHECKBOX_RECT = (300.0, 550.0, 330.0, 580.0)


def make_pdf_with_form_fields() -> bytes:
    """A one-page test PDF with filled AcroForm fields and form-related active content.

    A text field ``name`` (value "Zhang San", with an appearance and a JavaScript /AA), a checked
    checkbox ``agree`` (appearance states /Yes and /Off), a text field ``hidden_value`` with a
    value but no appearance, an empty signature field ``Sig1``, and an XFA entry in the AcroForm.
    """
    pdf = _open(make_test_pdf(1))
    page = pdf.pages[0].obj
    fonts = pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=page.Resources.Font.F1))
    text_ap = _form_xobject(
        pdf,
        b"/Tx BMC q 0.9 0.9 1 rg 0 0 200 30 re f BT 0 g /Helv 16 Tf 4 9 Td (Zhang San) Tj ET Q EMC",
        TEXT_FIELD_RECT,
        Resources=fonts,
    )
    check = b"q 0 g 0 0 30 30 re 2 w S 4 w 5 5 m 25 25 l 5 25 m 25 5 l S Q"
    states = pikepdf.Dictionary(
        Yes=_form_xobject(pdf, check, CHECKBOX_RECT),
        Off=_form_xobject(pdf, b"q 0 g 0 0 30 30 re 2 w S Q", CHECKBOX_RECT),
    )
    widget = "/Type /Annot /Subtype /Widget /F 4"
    rect = "/Rect [{} {} {} {}]"
    widgets = [
        make_indirect(
            pdf,
            f"<< {widget} /FT /Tx /T (name) /V (Zhang San) /DA (/Helv 16 Tf 0 g) "
            f"{rect.format(*TEXT_FIELD_RECT)} >>",
            P=page,
            AP=pikepdf.Dictionary(N=text_ap),
            AA=pikepdf.Dictionary(K=_js(pdf, "event.value = 'x';")),
        ),
        make_indirect(
            pdf,
            f"<< {widget} /FT /Btn /T (agree) /V /Yes /AS /Yes {rect.format(*CHECKBOX_RECT)} >>",
            P=page,
            AP=pikepdf.Dictionary(N=states),
        ),
        make_indirect(
            pdf,
            f"<< {widget} /FT /Tx /T (hidden_value) /V (secret) /DA (/Helv 12 Tf 0 g) "
            "/Rect [300 500 500 530] >>",
            P=page,
        ),
        make_indirect(
            pdf,
            "<< /Type /Annot /Subtype /Widget /FT /Sig /T (Sig1) /F 132 /Rect [72 100 272 160] >>",
            P=page,
        ),
    ]
    page.Annots = pdf.make_indirect(pikepdf.Array(widgets))
    xfa = b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'><script>app.alert(1)</script></xdp:xdp>"
    pdf.Root.AcroForm = make_indirect(
        pdf,
        "<< /DA (/Helv 12 Tf 0 g) >>",
        Fields=pikepdf.Array(widgets),
        DR=fonts,
        XFA=pdf.make_stream(xfa),
    )
    return save_pdf(pdf)


def make_encrypted_pdf(
    *,
    user_password: str = "",
    owner_password: str = "owner",
) -> bytes:
    """A test PDF encrypted with AES-256; an empty user password opens it without asking."""
    pdf = _open(make_test_pdf(1))
    return save_pdf(
        pdf, encryption=pikepdf.Encryption(owner=owner_password, user=user_password, R=6)
    )


def flate_bomb(decompressed_bytes: int) -> bytes:
    """A valid zlib stream of about ``decompressed_bytes`` zero bytes, made in milliseconds."""
    mib = 1 << 20
    compressor = zlib.compressobj(9)
    # After a full flush the compressor state is reset, so each MiB of zeros compresses to the
    # same block: repeat it instead of compressing gigabytes.
    first = compressor.compress(bytes(mib)) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(mib)) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = max(1, decompressed_bytes // mib)
    # Adler-32 of n zero bytes: A stays 1, B adds 1 per byte.
    adler = ((count * mib) % 65521) << 16 | 1
    return first[:2] + block * count + b"\x03\x00" + adler.to_bytes(4, "big")


def make_flate_bomb_pdf(decompressed_bytes: int = GIB, *, layers: int = 1) -> bytes:
    """A one-page PDF whose page resources hold a Flate stream inflating to ``decompressed_bytes``.

    With ``layers=2`` the bomb is compressed once more and declared ``/Filter [/FlateDecode
    /FlateDecode]``, so a scan of the outer layer alone sees only about 1 MB per GiB.
    """
    pdf = _open(make_test_pdf(1, with_cjk_text=False))
    data = flate_bomb(decompressed_bytes)
    filters = [pikepdf.Name.FlateDecode]
    for _ in range(layers - 1):
        data = zlib.compress(data, 9)
        filters.append(pikepdf.Name.FlateDecode)
    bomb = pdf.make_stream(
        b"", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form, BBox=[0, 0, 10, 10]
    )
    bomb.write(data, filter=pikepdf.Array(filters))
    pdf.pages[0].obj.Resources.XObject = pikepdf.Dictionary(Bomb=bomb)
    # With compress_streams qpdf would inflate a chain of filters to re-encode it as one.
    return save_pdf(pdf, compress_streams=False)


def make_signed_pdf(
    data: bytes | None = None,
    *,
    visible: bool = True,
    field_name: str = "Signature1",
    page: int = -1,
    box: tuple[int, int, int, int] = (72, 40, 252, 120),
) -> bytes:
    """Sign ``data`` (default: a one-page test PDF) with pyHanko and a throw-away self-signed key.

    The signature is visible in ``box`` (by default under 甲方's signature block) on ``page``
    (default: the last) unless ``visible`` is false. The key and certificate are generated for
    each call (ECDSA P-256), so the output differs between calls.
    """
    import datetime

    from asn1crypto import keys, x509
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = ec.generate_private_key(ec.SECP256R1())
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "Qianshu Test Signer")])
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    cert = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(cx509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    asn1_cert = x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    asn1_key = keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    signer = signers.SimpleSigner(
        signing_cert=asn1_cert,
        signing_key=asn1_key,
        cert_registry=SimpleCertificateStore.from_certs([asn1_cert]),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(data or make_test_pdf(1)))
    spec = fields.SigFieldSpec(field_name, on_page=page, box=box if visible else None)
    fields.append_signature_field(writer, spec)
    out = signers.sign_pdf(
        writer, signers.PdfSignatureMetadata(field_name=field_name), signer=signer
    )
    return bytes(out.getvalue())
