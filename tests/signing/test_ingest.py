"""Tests of PDF ingest: acceptance, limits, normalisation, signed pass-through."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import random
import re
import tracemalloc
import zlib
from collections.abc import Iterator

import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from qianshu.signing import ingest, samples
from qianshu.signing.errors import (
    BrokenPdfError,
    ConfigurationError,
    EncryptedPdfError,
    NotAPdfError,
    PdfError,
    PdfTooLargeError,
)
from qianshu.signing.ingest import IngestedPdf, IngestLimits, ingest_pdf
from qianshu.signing.pages import PageSize
from tests.support import pdfs as testpdfs

ACTIVE_KEYS = ("/JavaScript", "/JS", "/OpenAction", "/AA", "/AcroForm", "/XFA", "/EmbeddedFiles")
ACTIVE_BYTES = [k.encode() for k in ACTIVE_KEYS] + [b"/Launch", b"/GoToR", b"javascript:", b"/EF"]
A4 = PageSize(595.28, 841.89)
A4_LANDSCAPE = PageSize(841.89, 595.28)


@pytest.fixture(scope="module")
def contract() -> bytes:
    return samples.make_test_pdf(3)


def all_objects(data: bytes) -> Iterator[pikepdf.Dictionary]:
    """Every dictionary (including stream dictionaries and direct ones) of a PDF."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        stack: list[pikepdf.Object] = [pdf.trailer]
        seen: set[tuple[int, int]] = set()
        while stack:
            obj = stack.pop()
            if obj.is_indirect:
                if obj.objgen in seen:
                    continue
                seen.add(obj.objgen)
            if isinstance(obj, pikepdf.Array):
                stack += [
                    o
                    for o in obj
                    if isinstance(o, pikepdf.Array | pikepdf.Dictionary | pikepdf.Stream)
                ]
                continue
            mapping = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
            yield mapping
            stack += [
                v
                for _, v in mapping.items()
                if isinstance(v, pikepdf.Array | pikepdf.Dictionary | pikepdf.Stream)
            ]


def assert_no_active_content(data: bytes) -> None:
    for mapping in all_objects(data):
        for key in (*ACTIVE_KEYS, "/EF", "/AF", "/RF"):
            assert key not in mapping, key
        if mapping.get("/S") in (pikepdf.Name.JavaScript, pikepdf.Name.Launch, pikepdf.Name.GoToR):
            raise AssertionError(f"dangerous action left: {mapping!r}")
        assert mapping.get("/Subtype") not in (pikepdf.Name.Widget, pikepdf.Name.FileAttachment)
    # Object syntax only: stream bodies are compressed bytes where any 3-byte name may occur.
    syntax = re.sub(rb"stream\r?\n.*?endstream", b"", data, flags=re.DOTALL)
    assert b"endobj" in syntax
    for needle in ACTIVE_BYTES:
        assert needle not in syntax, needle


def assert_clean_file(result: IngestedPdf) -> None:
    """Classic xref, no object streams, readable by pyHanko's strict reader."""
    assert b"\nxref\n" in result.data
    assert b"/ObjStm" not in result.data and b"/XRef" not in result.data
    reader = PdfFileReader(io.BytesIO(result.data), strict=True)
    assert len(reader.root["/Pages"]["/Kids"]) >= 1
    assert result.trailing_bytes_after_eof == 0
    assert not result.already_signed


def page_text(data: bytes, index: int = 0) -> str:
    document = pdfium.PdfDocument(data)
    try:
        return document[index].get_textpage().get_text_range()
    finally:
        document.close()


def ink(data: bytes, box: tuple[float, float, float, float], page_height: float = 841.89) -> int:
    """Dark pixels inside a PDF-space box of page 1, rendered at 72 dpi with forms drawn."""
    document = pdfium.PdfDocument(data)
    document.init_forms()
    try:
        image = document[0].render(scale=1, may_draw_forms=True).to_pil().convert("L")
    finally:
        document.close()
    x1, y1, x2, y2 = box
    area = image.crop((int(x1), int(page_height - y2), int(x2), int(page_height - y1)))
    return sum(count for value, count in enumerate(area.histogram()) if value < 128)


def test_plain_contract_is_rewritten_cleanly(contract: bytes) -> None:
    result = ingest_pdf(contract)

    assert_clean_file(result)
    assert result.page_count == 3
    assert result.page_sizes == (A4, A4, A4)
    assert result.removed == ()
    assert result.kept_active_content == ()
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()
    assert "采购合同" in page_text(result.data)


def test_same_input_gives_same_bytes_and_ingest_is_idempotent(contract: bytes) -> None:
    first = ingest_pdf(contract)
    second = ingest_pdf(bytes(contract))

    assert first.data == second.data
    assert ingest_pdf(first.data).data == first.data
    hostile = testpdfs.make_pdf_with_form_fields()
    assert ingest_pdf(hostile).data == ingest_pdf(hostile).data


def test_page_sizes_follow_rotation_and_orientation() -> None:
    data = samples.make_test_pdf(
        3,
        sizes=[samples.A4_PORTRAIT, samples.A4_LANDSCAPE, samples.A4_PORTRAIT],
        rotations=[0, 0, 90],
    )
    result = ingest_pdf(data)

    assert result.page_sizes == (A4, A4_LANDSCAPE, A4_LANDSCAPE)
    assert [s.is_landscape for s in result.page_sizes] == [False, True, True]
    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        assert pdf.pages[2].obj.Rotate == 90  # kept, not baked into the content


def test_page_sizes_use_crop_box_and_user_unit(contract: bytes) -> None:
    with pikepdf.open(io.BytesIO(contract)) as pdf:
        pdf.pages[0].obj.CropBox = [50, 50, 350, 250]
        pdf.pages[1].obj.UserUnit = 2
        out = io.BytesIO()
        pdf.save(out)

    result = ingest_pdf(out.getvalue())

    assert result.page_sizes[:2] == (PageSize(300, 200), PageSize(1190.56, 1683.78))


def test_javascript_and_actions_are_removed_but_web_links_stay() -> None:
    result = ingest_pdf(testpdfs.make_pdf_with_javascript())

    assert_clean_file(result)
    assert_no_active_content(result.data)
    assert result.removed == ("javascript", "open_action", "additional_actions", "actions")
    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        links = list(pdf.pages[0].obj.Annots)
        assert [str(link.A.URI) for link in links] == ["https://example.com/terms"]
        item = pdf.Root.Outlines.First
        assert str(item.Title) == "Clause 1" and "/A" not in item
        assert "/Names" not in pdf.Root
    assert "采购合同" in page_text(result.data)


def test_attachments_are_removed() -> None:
    original = testpdfs.make_pdf_with_attachments()
    with pikepdf.open(io.BytesIO(original)) as pdf:
        assert "invoice.exe" in pdf.attachments

    result = ingest_pdf(original)

    assert_no_active_content(result.data)
    assert result.removed == ("embedded_files", "annotations:1")
    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        assert not pdf.attachments
        assert "/Annots" not in pdf.pages[0].obj


def test_form_fields_are_flattened_and_stay_visible() -> None:
    original = testpdfs.make_pdf_with_form_fields()

    result = ingest_pdf(original)

    assert_clean_file(result)
    assert_no_active_content(result.data)
    assert result.removed == ("xfa", "form_fields:3", "signature_fields:1")
    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        assert "/Annots" not in pdf.pages[0].obj
    for box in (testpdfs.TEXT_FIELD_RECT, testpdfs.CHECKBOX_RECT):
        before, after = ink(original, box), ink(result.data, box)
        assert before > 20 and after > 20, (box, before, after)
    assert "Zhang San" in page_text(result.data)  # real text, now part of the page
    assert "secret" not in page_text(result.data)  # the field without appearance is dropped


def test_fields_needing_appearances_get_them_before_flattening() -> None:
    with pikepdf.open(io.BytesIO(testpdfs.make_pdf_with_form_fields())) as pdf:
        pdf.Root.AcroForm.NeedAppearances = True
        del pdf.Root.AcroForm["/XFA"]
        out = io.BytesIO()
        pdf.save(out)

    result = ingest_pdf(out.getvalue())

    assert_no_active_content(result.data)
    assert "secret" in page_text(result.data)


def test_signed_pdf_passes_through_byte_for_byte() -> None:
    signed = testpdfs.make_signed_pdf(samples.make_test_pdf(2))

    result = ingest_pdf(signed)

    assert result.data == signed
    assert result.already_signed
    assert result.removed == () and result.kept_active_content == ()
    assert result.page_count == 2 and result.page_sizes == (A4, A4)
    assert result.trailing_bytes_after_eof == 0


def test_signed_pdf_reports_trailing_bytes_and_kept_active_content() -> None:
    signed = testpdfs.make_signed_pdf(testpdfs.make_pdf_with_javascript()) + b"\n% hidden\n"

    result = ingest_pdf(signed)

    assert result.data == signed
    assert result.trailing_bytes_after_eof == len(b"% hidden")
    assert "javascript" in result.kept_active_content
    assert "open_action" in result.kept_active_content


def test_certified_pdf_without_filled_field_counts_as_signed(contract: bytes) -> None:
    with pikepdf.open(io.BytesIO(contract)) as pdf:
        pdf.Root.Perms = pikepdf.Dictionary(DocMDP=pikepdf.Dictionary(Type=pikepdf.Name.Sig))
        out = io.BytesIO()
        pdf.save(out)

    assert ingest_pdf(out.getvalue()).already_signed


def test_normalised_pdf_can_be_signed_and_verifies_intact() -> None:
    result = ingest_pdf(testpdfs.make_pdf_with_form_fields())
    signed = testpdfs.make_signed_pdf(result.data)

    reader = PdfFileReader(io.BytesIO(signed), strict=True)
    (signature,) = reader.embedded_signatures
    status = validate_pdf_signature(
        signature, ValidationContext(trust_roots=[], allow_fetching=False)
    )

    assert status.intact and status.valid
    assert signed.startswith(result.data)


def _blank_pdf(pages: int) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _with_huge_image() -> bytes:
    with pikepdf.open(io.BytesIO(samples.make_test_pdf(1, with_cjk_text=False))) as pdf:
        image = pdf.make_stream(
            b"\xff\xd8\xff\xd9",
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=60000,
            Height=60000,
            BitsPerComponent=8,
            ColorSpace=pikepdf.Name.DeviceRGB,
            Filter=pikepdf.Name.DCTDecode,
        )
        pdf.pages[0].obj.Resources.XObject = pikepdf.Dictionary(Im0=image)
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


def _xref_stream_bomb() -> bytes:
    """A cross-reference stream inflating to 1 GiB: qpdf would decode it while opening the file."""
    bomb = testpdfs.flate_bomb(1 << 30)
    head = b"%PDF-1.5\n"
    obj = b"1 0 obj\n<< /Type /XRef /Size 2 /W [1 4 1] /Filter /FlateDecode /Length %d >>\nstream\n"
    return (
        head + obj % len(bomb) + bomb + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % len(head)
    )


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (10, 10), "red").save(out, "PNG")
    return out.getvalue()


HOSTILE_CASES = [
    pytest.param(lambda: b"", IngestLimits(), NotAPdfError, "empty", id="empty"),
    pytest.param(
        lambda: "合同正文\n".encode() * 50, IngestLimits(), NotAPdfError, "text", id="text"
    ),
    pytest.param(_png, IngestLimits(), NotAPdfError, "PNG image", id="png-renamed-pdf"),
    pytest.param(
        lambda: random.Random(7).randbytes(5000), IngestLimits(), NotAPdfError, "PDF", id="garbage"
    ),
    pytest.param(
        lambda: b"%PDF-1.7\n" + random.Random(7).randbytes(5000) + b"\n%%EOF\n",
        IngestLimits(),
        BrokenPdfError,
        "damaged",
        id="garbage-with-header",
    ),
    pytest.param(
        lambda: samples.make_test_pdf(2)[:30000],
        IngestLimits(),
        BrokenPdfError,
        "cut off",
        id="truncated",
    ),
    pytest.param(
        lambda: (
            b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
        ),
        IngestLimits(),
        BrokenPdfError,
        "pages",
        id="no-pages",
    ),
    pytest.param(
        testpdfs.make_encrypted_pdf,
        IngestLimits(),
        EncryptedPdfError,
        "password",
        id="encrypted-empty-password",
    ),
    pytest.param(
        lambda: testpdfs.make_encrypted_pdf(user_password="1234"),
        IngestLimits(),
        EncryptedPdfError,
        "unprotected",
        id="encrypted-password",
    ),
    pytest.param(
        lambda: _blank_pdf(501), IngestLimits(), PdfTooLargeError, "limit is 500 pages", id="pages"
    ),
    pytest.param(
        lambda: samples.make_test_pdf(4),
        IngestLimits(max_pages=3),
        PdfTooLargeError,
        "3 pages",
        id="pages-custom",
    ),
    pytest.param(
        lambda: b"%PDF-1.7\n" + bytes(50 * 1024 * 1024),
        IngestLimits(),
        PdfTooLargeError,
        "52428800 bytes (50 MiB)",
        id="too-big",
    ),
    pytest.param(
        lambda: _blank_pdf(30),
        IngestLimits(max_objects=20),
        PdfTooLargeError,
        "20 objects",
        id="objects",
    ),
    pytest.param(
        testpdfs.make_flate_bomb_pdf, IngestLimits(), PdfTooLargeError, "bomb", id="flate-bomb"
    ),
    pytest.param(
        lambda: testpdfs.make_flate_bomb_pdf(64 << 20, layers=2),
        IngestLimits(max_decompressed_bytes=32 << 20),
        PdfTooLargeError,
        "32 MiB",
        id="nested-flate-bomb",
    ),
    pytest.param(
        _xref_stream_bomb, IngestLimits(), PdfTooLargeError, "bomb", id="xref-stream-bomb"
    ),
    pytest.param(
        _with_huge_image, IngestLimits(), PdfTooLargeError, "60000 x 60000", id="image-pixels"
    ),
]


@pytest.mark.parametrize(("make", "limits", "error", "message"), HOSTILE_CASES)
def test_hostile_input_gives_the_right_error(make, limits, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PdfError) as caught:
        ingest_pdf(make(), limits)

    assert type(caught.value) is error
    assert message in str(caught.value)
    assert "BytesIO" not in str(caught.value)


def test_random_corruption_never_escapes_as_another_exception(contract: bytes) -> None:
    rng = random.Random(2025)
    for _ in range(40):
        data = bytearray(contract)
        for _ in range(rng.randint(1, 30)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            ingest_pdf(bytes(data))
        except PdfError:
            pass


def test_invalid_limits_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        IngestLimits(max_pages=0)


# Encoders for the bounded decoders' tests (qpdf decodes these filters but cannot encode them).


def _lzw_encode(data: bytes) -> bytes:
    """A plain PDF LZW encoder (EarlyChange 1)."""
    fresh = {bytes([i]): i for i in range(256)}
    table, width, next_code, current = dict(fresh), 9, 258, b""
    codes = [(256, 9)]
    for byte in data:
        candidate = current + bytes([byte])
        if candidate in table:
            current = candidate
            continue
        codes.append((table[current], width))
        table[candidate] = next_code
        next_code += 1
        if next_code >= 1 << width and width < 12:
            width += 1
        if next_code >= 4094:
            codes.append((256, width))
            table, width, next_code = dict(fresh), 9, 258
        current = bytes([byte])
    codes.append((table[current], width))
    if next_code + 1 >= 1 << width and width < 12:
        width += 1
    codes.append((257, width))
    bits, length, out = 0, 0, bytearray()
    for code, code_width in codes:
        bits, length = bits << code_width | code, length + code_width
        while length >= 8:
            length -= 8
            out.append(bits >> length & 0xFF)
        bits &= (1 << length) - 1
    if length:
        out.append(bits << (8 - length) & 0xFF)
    return bytes(out)


def _run_length_encode(data: bytes) -> bytes:
    out = bytearray()
    for start in range(0, len(data), 100):
        chunk = data[start : start + 100]
        if len(set(chunk)) == 1 and len(chunk) > 1:
            out += bytes([257 - len(chunk), chunk[0]])
        else:
            out += bytes([len(chunk) - 1]) + chunk
    return bytes(out + b"\x80")


ENCODERS = {
    "/LZWDecode": _lzw_encode,
    "/RunLengthDecode": _run_length_encode,
    "/ASCIIHexDecode": lambda d: binascii.hexlify(d, b"\n", 30) + b">",
    "/ASCII85Decode": lambda d: base64.a85encode(d, wrapcol=70) + b"~>",
    "/FlateDecode": zlib.compress,
}


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_bounded_decoders_match_qpdf(name: str) -> None:
    rng = random.Random(name)
    sample = b"".join(
        rng.choice([bytes(rng.randrange(1, 300)), rng.randbytes(50), b"BT (abc) Tj ET\n" * 40])
        for _ in range(300)
    )
    encoded = ENCODERS[name](sample)
    with pikepdf.new() as pdf:
        stream = pdf.make_stream(b"")
        stream.write(encoded, filter=pikepdf.Name(name))
        expected = stream.read_bytes(pikepdf.StreamDecodeLevel.specialized)
    chunks = [encoded[i : i + 7] for i in range(0, len(encoded), 7)]
    decoded = b"".join(ingest._DECODERS[name](chunks))

    assert decoded == expected == sample


@pytest.mark.parametrize("name", ["/LZWDecode", "/ASCII85Decode", "/RunLengthDecode"])
def test_content_in_other_filters_is_accepted_and_bounded(name: str) -> None:
    with pikepdf.open(io.BytesIO(samples.make_test_pdf(1, with_cjk_text=False))) as pdf:
        content = pdf.pages[0].obj.Contents.read_bytes() + b"\n% padding" + b" " * 200_000
        pdf.pages[0].obj.Contents.write(ENCODERS[name](content), filter=pikepdf.Name(name))
        out = io.BytesIO()
        pdf.save(out, compress_streams=False)
    data = out.getvalue()

    assert "Purchase Contract" in page_text(ingest_pdf(data).data)
    with pytest.raises(PdfTooLargeError):
        ingest_pdf(data, IngestLimits(max_decompressed_bytes=150_000))


def test_structure_attributes_survive_and_references_to_removed_annotations_are_cut() -> None:
    with pikepdf.open(io.BytesIO(testpdfs.make_pdf_with_javascript())) as pdf:
        annots = pdf.pages[0].obj.Annots
        page = pdf.pages[0].obj

        def objr(annot: pikepdf.Object) -> pikepdf.Dictionary:
            return pikepdf.Dictionary(Type=pikepdf.Name.OBJR, Obj=annot, Pg=page)

        element = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.StructElem,
                S=pikepdf.Name.Link,
                A=pikepdf.Dictionary(O=pikepdf.Name.Layout, Placement=pikepdf.Name.Block),
                K=[objr(annots[0]), objr(annots[4])],
            )
        )
        pdf.Root.StructTreeRoot = pdf.make_indirect(
            pikepdf.Dictionary(Type=pikepdf.Name.StructTreeRoot, K=[element])
        )
        out = io.BytesIO()
        pdf.save(out)

    result = ingest_pdf(out.getvalue())

    assert_no_active_content(result.data)
    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        (element,) = pdf.Root.StructTreeRoot.K
        assert element.A.Placement == pikepdf.Name.Block
        removed, kept = element.K
        assert "/Obj" not in removed
        assert kept.Obj.A.URI == "https://example.com/terms"
        assert kept.Obj.objgen == pdf.pages[0].obj.Annots[0].objgen


def test_object_streams_and_xref_streams_are_rewritten_as_a_classic_file() -> None:
    with pikepdf.open(io.BytesIO(testpdfs.make_pdf_with_form_fields())) as pdf:
        out = io.BytesIO()
        pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    assert b"/ObjStm" in out.getvalue()

    result = ingest_pdf(out.getvalue())

    assert_clean_file(result)
    assert_no_active_content(result.data)
    assert result.removed == ("xfa", "form_fields:3", "signature_fields:1")
    assert "Zhang San" in page_text(result.data)


def test_pathological_runs_are_handled_in_linear_time() -> None:
    # Long digit runs (like signature placeholders) once made the object count quadratic, and
    # millions of "stream" keywords must not each start a decompressor.
    digits = b"%PDF-1.7\n" + b"1" * 2_000_000 + b" 0 obj\n%%EOF\n"
    streams = b"%PDF-1.7\n" + b"stream\n" * 1_000_000 + b"%%EOF\n"

    with pytest.raises(BrokenPdfError):
        ingest_pdf(digits)
    with pytest.raises(PdfTooLargeError) as caught:
        ingest_pdf(streams)
    assert "objects" in str(caught.value)


@pytest.mark.parametrize("layers", [1, 2])
def test_flate_bomb_is_stopped_without_holding_the_inflated_data(layers: int) -> None:
    data = testpdfs.make_flate_bomb_pdf(layers=layers)
    tracemalloc.start()
    try:
        with pytest.raises(PdfTooLargeError):
            ingest_pdf(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 32 * 1024 * 1024  # the limit is 512 MiB; chunks of 1 MiB are dropped as counted
