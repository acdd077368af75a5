"""Builders for signed test documents: plain PDFs, a platform, signing steps and edits.

The PDFs are written with uncompressed content streams and without object streams, so tests
can find page text and objects in the raw bytes and change them in place (the realistic
contract of ``qianshu.signing.samples`` embeds a CJK font: bigger, slower to fuzz).
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pikepdf
from PIL import Image, ImageDraw
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.signers.cms_embedder import PdfCMSEmbedder, SigIOSetup, SigObjSetup
from pyhanko.sign.signers.pdf_byterange import DocumentTimestamp, SignatureObject
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from qianshu.signing import documents
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.stamps import Rect, StampImage, render_text_image

PAGE_SIZE = (595.0, 842.0)
CREDIT_CODE = "91350100M000100Y43"
PERSON_FIELD = "alice"
SEAL_FIELD = "acme-seal"
PAGE_TEXT = b"Contract page %d: the buyer pays 100 yuan"
_BYTE_RANGE_RE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def make_pdf(pages: int = 2, *, text_field: tuple[str, str] | None = None) -> bytes:
    """A plain PDF with one line of Helvetica text per page.

    ``text_field`` = (name, value) adds an ordinary AcroForm text field on page 1, the way a
    third-party form would arrive (our ingest would remove it).
    """
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    for number in range(1, pages + 1):
        pdf.add_blank_page(page_size=PAGE_SIZE)
        page = pdf.pages[-1]
        page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.Contents = pdf.make_stream(
            b"BT /F1 18 Tf 72 760 Td (" + PAGE_TEXT % number + b") Tj ET"
        )
    if text_field is not None:
        name, value = text_field
        appearance = pdf.make_stream(
            _text_appearance(value.encode("ascii")),
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Form,
            BBox=[0, 0, 200, 24],
            Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=font)),
        )
        widget = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Widget,
                FT=pikepdf.Name.Tx,
                T=pikepdf.String(name),
                V=pikepdf.String(value),
                DA=pikepdf.String("/Helv 12 Tf 0 g"),
                Rect=[72, 700, 272, 724],
                F=4,
                P=pdf.pages[0].obj,
                AP=pikepdf.Dictionary(N=appearance),
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
    out = io.BytesIO()
    pdf.save(
        out,
        object_stream_mode=pikepdf.ObjectStreamMode.disable,
        compress_streams=False,
        deterministic_id=True,
    )
    return out.getvalue()


def _text_appearance(value: bytes) -> bytes:
    return b"/Tx BMC q BT /Helv 12 Tf 2 6 Td (" + value + b") Tj ET Q EMC"


def make_platform(name: str = "Qianshu Test") -> EphemeralPlatform:
    return EphemeralPlatform(name=name)


@lru_cache(maxsize=1)
def seal_image() -> StampImage:
    img = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((6, 6, 154, 154), outline=(220, 0, 0, 255), width=8)
    draw.regular_polygon((80, 80, 28), 5, fill=(220, 0, 0, 255))
    out = io.BytesIO()
    img.save(out, "PNG")
    return StampImage.from_png(out.getvalue())


@lru_cache(maxsize=4)
def signature_image(name: str) -> StampImage:
    return StampImage.from_png(render_text_image(name))


DEFAULT_FIELDS = (
    documents.FieldSpec(PERSON_FIELD, 0, Rect(60, 60, 220, 120)),
    documents.FieldSpec(SEAL_FIELD, 0, Rect(320, 60, 440, 180)),
)


def prepare(
    platform: EphemeralPlatform,
    pdf: bytes,
    fields: tuple[documents.FieldSpec, ...] = DEFAULT_FIELDS,
    *,
    timestamps: bool = True,
) -> bytes:
    return documents.prepare_document(
        pdf,
        fields,
        certifier=platform.certifier,
        timestamper=platform.timestamper if timestamps else None,
    )


def sign_person(
    platform: EphemeralPlatform,
    data: bytes,
    *,
    name: str = "Alice",
    field: str = PERSON_FIELD,
    timestamps: bool = True,
) -> tuple[bytes, int]:
    """Sign ``field`` as a person; returns the new bytes and the certificate serial."""
    signer = platform.person_signer(name)
    out = documents.sign_turn(
        data,
        [documents.Placement(field, signature_image(name))],
        signer=signer,
        timestamper=platform.timestamper if timestamps else None,
    )
    return out, signer.signing_cert.serial_number


def sign_seal(
    platform: EphemeralPlatform,
    data: bytes,
    *,
    field: str = SEAL_FIELD,
    timestamps: bool = True,
) -> tuple[bytes, int]:
    """Seal ``field`` for Acme Ltd; returns the new bytes and the certificate serial."""
    signer = platform.seal_signer("Acme Ltd", CREDIT_CODE, "Contract seal")
    out = documents.sign_turn(
        data,
        [documents.Placement(field, seal_image())],
        signer=signer,
        timestamper=platform.timestamper if timestamps else None,
    )
    return out, signer.signing_cert.serial_number


def lta_validation_spec(platform: EphemeralPlatform) -> PdfSignatureValidationSpec:
    """pyHanko's ETSI EN 319 102-1 long-term validation settings: the platform root trusted,
    revocation data required, only what is embedded in the file (no network)."""
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=platform.trust_roots),
                revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )


def finish(platform: EphemeralPlatform, data: bytes) -> bytes:
    return documents.finish_document(
        data,
        timestamper=platform.timestamper,
        revocation=platform.revocation,
        trust_roots=platform.trust_roots,
    )


@dataclass(frozen=True)
class SignedDocument:
    """The stages of a small contract: prepared, signed by Alice, sealed by Acme, finished."""

    prepared: bytes
    signed: bytes  # PAdES B-T: certification + person signature + seal
    finished: bytes | None  # PAdES B-LTA
    person_serial: int
    seal_serial: int


def signed_document(
    platform: EphemeralPlatform,
    *,
    pdf: bytes | None = None,
    finished: bool = True,
    timestamps: bool = True,
) -> SignedDocument:
    prepared = prepare(platform, pdf or make_pdf(), timestamps=timestamps)
    with_person, person_serial = sign_person(platform, prepared, timestamps=timestamps)
    signed, seal_serial = sign_seal(platform, with_person, timestamps=timestamps)
    return SignedDocument(
        prepared=prepared,
        signed=signed,
        finished=finish(platform, signed) if finished else None,
        person_serial=person_serial,
        seal_serial=seal_serial,
    )


def incremental_update(data: bytes, edit: Callable[[IncrementalPdfFileWriter], None]) -> bytes:
    """Apply ``edit`` to a pyHanko incremental writer and return the updated file."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    edit(writer)
    out = io.BytesIO()
    writer.write(out)  # the original bytes, then the new revision
    result = out.getvalue()
    assert result.startswith(data) and result.count(b"%%EOF") == data.count(b"%%EOF") + 1
    return result


def add_page(writer: IncrementalPdfFileWriter, text: bytes = b"Extra page: 900 yuan") -> None:
    font = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Font"),
            pdf_name("/Subtype"): pdf_name("/Type1"),
            pdf_name("/BaseFont"): pdf_name("/Helvetica"),
        }
    )
    contents = writer.add_object(
        generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 760 Td (" + text + b") Tj ET")
    )
    page = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Page"),
            pdf_name("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(0), generic.NumberObject(0)]
                + [generic.FloatObject(v) for v in PAGE_SIZE]
            ),
            pdf_name("/Resources"): generic.DictionaryObject(
                {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})}
            ),
            pdf_name("/Contents"): contents,
        }
    )
    writer.insert_page(page)


def replace_page_content(writer: IncrementalPdfFileWriter, page_ix: int, content: bytes) -> None:
    """Overwrite the content stream object of a page (same object number, new revision)."""
    page_ref, _ = writer.find_page_for_modification(page_ix)
    contents_ref = page_ref.get_object().raw_get("/Contents")
    assert isinstance(contents_ref, generic.IndirectObject)
    writer.objects[(contents_ref.generation, contents_ref.idnum)] = generic.StreamObject(
        stream_data=content
    )


def set_text_field(writer: IncrementalPdfFileWriter, name: str, value: str) -> None:
    """Change a text field's value and appearance: what a PDF editor's form filler does."""
    for field_ref in writer.root["/AcroForm"].raw_get("/Fields"):
        field = field_ref.get_object()
        if field.get("/T") != name:
            continue
        field[pdf_name("/V")] = generic.TextStringObject(value)
        old_ap = field["/AP"]["/N"]
        appearance = generic.StreamObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Form"),
                pdf_name("/BBox"): old_ap["/BBox"],
                pdf_name("/Resources"): old_ap.raw_get("/Resources"),
            },
            stream_data=_text_appearance(value.encode("ascii")),
        )
        field[pdf_name("/AP")] = generic.DictionaryObject(
            {pdf_name("/N"): writer.add_object(appearance)}
        )
        writer.mark_update(field_ref)
        return
    raise AssertionError(f"no form field {name!r}")


def forge_signature_appearance(writer: IncrementalPdfFileWriter, field_name: str) -> None:
    """Paint a "seal" into an empty signature field, with a /V that is not a signature.

    The value is a bare ``/Type /Sig`` dictionary: no /SubFilter, /ByteRange or /Contents.
    """
    for field_ref in writer.root["/AcroForm"].raw_get("/Fields"):
        field = field_ref.get_object()
        if field.get("/T") != field_name:
            continue
        appearance = generic.StreamObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Form"),
                pdf_name("/BBox"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 0, 120, 120)]
                ),
            },
            stream_data=b"1 0 0 RG 6 w 10 10 100 100 re S",
        )
        field[pdf_name("/AP")] = generic.DictionaryObject(
            {pdf_name("/N"): writer.add_object(appearance)}
        )
        field[pdf_name("/V")] = writer.add_object(
            generic.DictionaryObject(
                {
                    pdf_name("/Type"): pdf_name("/Sig"),
                    pdf_name("/Filter"): pdf_name("/Adobe.PPKLite"),
                    pdf_name("/Name"): generic.TextStringObject("Acme Ltd"),
                }
            )
        )
        writer.mark_update(field_ref)
        return
    raise AssertionError(f"no signature field {field_name!r}")


def replace_signature_value(
    data: bytes, field_name: str, make_cms: Callable[[bytes], Any], *, timestamp: bool = False
) -> bytes:
    """An incremental update giving the already signed field ``field_name`` a new, genuine
    signature (``make_cms(digest)`` is a coroutine making the CMS over the whole new file):
    only the field's /V changes, its appearance stays.

    pyHanko refuses to sign a filled field, so /V is removed in the same (unsaved) revision
    and the field filled through pyHanko's low-level embedder, without appearance set-up.
    """
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    for name, _, ref in enumerate_sig_fields(writer, filled_status=True):
        if name == field_name:
            del ref.get_object()["/V"]
            writer.mark_update(ref)
    embed = PdfCMSEmbedder().write_cms(field_name, writer, existing_fields_only=True)
    next(embed)
    placeholder = (DocumentTimestamp if timestamp else SignatureObject)(bytes_reserved=16384)
    embed.send(SigObjSetup(sig_placeholder=placeholder))
    prepared, output = embed.send(SigIOSetup(md_algorithm="sha256"))
    embed.send(asyncio.run(make_cms(prepared.document_digest)))
    result: bytes = output.getvalue()
    assert result.startswith(data)
    return result


def break_xref_entry(data: bytes, idnum: int) -> bytes:
    """Put a space into the offset of object ``idnum`` in the newest xref table.

    pyHanko's strict reader rejects the table; its lenient reader then resolves the object to
    its previous revision, while repairing readers (qpdf, poppler, PDFium) take the newest
    definition in the file body.
    """
    start = data.rindex(b"\nxref\n")
    match = re.compile(rb"\n%d 1\r?\n(\d{10}) " % idnum).search(data, start)
    assert match is not None, f"object {idnum} is not in the newest xref table"
    at = match.start(1) + 4
    return data[:at] + b" " + data[at + 1 :]


def page_content_object(data: bytes, page_ix: int = 0) -> int:
    """The object number of a page's (single) content stream."""
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    page = reader.root["/Pages"]["/Kids"][page_ix].get_object()
    return int(page.raw_get("/Contents").idnum)


def byte_ranges(data: bytes) -> list[tuple[int, int, int, int]]:
    """Every /ByteRange [a b c d] in the file, in file order."""
    return [(int(a), int(b), int(c), int(d)) for a, b, c, d in _BYTE_RANGE_RE.findall(data)]


def signed_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every signed stretch of bytes, two per signature."""
    spans = []
    for a, b, c, d in byte_ranges(data):
        spans += [(a, a + b), (c, c + d)]
    return spans


def contents_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every signature's hex /Contents string, ``<`` and ``>`` included."""
    return [(a + b, c) for a, b, c, _ in byte_ranges(data)]


@dataclass(frozen=True)
class ThirdPartySigned:
    """A PDF signed by poppler's pdfsig with a key from an independent NSS test CA."""

    pdf: bytes
    unsigned_pdf: bytes
    ca_pem: bytes
    nss_dir: Path
    signer_name: str


THIRD_PARTY_CA = "Example Trust Test CA"
THIRD_PARTY_SIGNER = "Wang Wu"
THIRD_PARTY_ORG = "Example Partner Ltd"


def third_party_tools_available() -> bool:
    return all(shutil.which(tool) for tool in ("pdfsig", "certutil"))


def _certutil(*args: str, db: Path, stdin: str | None = None) -> None:
    subprocess.run(
        ["certutil", *args, "-d", f"sql:{db}"],
        input=stdin,
        text=True,
        capture_output=True,
        check=True,
        timeout=60,
    )


def sign_with_pdfsig(workdir: Path, pdf: bytes, *, field: str = "S1") -> ThirdPartySigned:
    """Make a CA and a signer certificate with NSS ``certutil`` and sign ``pdf`` with pdfsig.

    The signer key is RSA: poppler 22.12 fails to sign with an EC key ("unable update
    signature", the output has a digest mismatch).
    """
    db = workdir / "nssdb"
    db.mkdir(parents=True)
    _certutil("-N", "--empty-password", db=db)
    noise = workdir / "noise"
    noise.write_bytes(os.urandom(2048))
    # -2: basic constraints; the answers are "is a CA: y", "no path length", "critical: y".
    _certutil(
        "-S", "-x", "-n", "ca", "-s", f"CN={THIRD_PARTY_CA},O=Example Trust",
        "-t", "CT,C,C", "-k", "ec", "-q", "nistp256", "-Z", "SHA256", "-v", "24",
        "-2", "--keyUsage", "certSigning,crlSigning", "-z", str(noise), "-m", "1",
        db=db, stdin="y\n\ny\n",
    )  # fmt: skip
    noise.write_bytes(os.urandom(2048))
    _certutil(
        "-S", "-n", "signer", "-c", "ca", "-s", f"CN={THIRD_PARTY_SIGNER},O={THIRD_PARTY_ORG}",
        "-t", ",,", "-k", "rsa", "-g", "2048", "-Z", "SHA256", "-v", "12",
        "--keyUsage", "digitalSignature,nonRepudiation", "-z", str(noise), "-m", "2",
        db=db,
    )  # fmt: skip
    ca_pem = subprocess.run(
        ["certutil", "-L", "-d", f"sql:{db}", "-n", "ca", "-a"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    unsigned, signed = workdir / "in.pdf", workdir / "out.pdf"
    unsigned.write_bytes(pdf)
    proc = subprocess.run(
        [
            "pdfsig", "-nssdir", f"sql:{db}", "-add-signature", "-nick", "signer",
            "-new-signature-field-name", field, str(unsigned), str(signed),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    # pdfsig exits 0 after signing (its NSS_Shutdown complaint on stderr is harmless).
    assert proc.returncode == 0 and signed.exists(), proc.stdout + proc.stderr
    return ThirdPartySigned(signed.read_bytes(), pdf, ca_pem, db, THIRD_PARTY_SIGNER)
