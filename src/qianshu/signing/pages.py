"""Page geometry and page images for the document viewer.

Sizes come from pikepdf (they honour /Rotate and /UserUnit, which PDFium ignores); images come from
PDFium through pypdfium2, with annotations and form fields drawn, so signature appearances show.

PDFium is not thread-safe and pypdfium2 does not serialise calls for you: call the rendering
functions from one thread per process, and scale with worker processes rather than threads.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal, NamedTuple

import pikepdf

from qianshu.signing.errors import (
    BrokenPdfError,
    EncryptedPdfError,
    NotAPdfError,
    PdfError,
    PdfTooLargeError,
)

if TYPE_CHECKING:
    import pypdfium2 as pdfium

ImageFormat = Literal["png", "jpeg", "webp"]

MIN_WIDTH_PX = 100
MAX_WIDTH_PX = 3000
#: Pages taller than this at the requested width (extreme aspect ratios) are refused.
MAX_HEIGHT_PX = 12000
_FORMATS: dict[str, tuple[str, dict[str, object]]] = {
    "png": ("PNG", {"compress_level": 6}),
    "jpeg": ("JPEG", {"quality": 85}),
    "webp": ("WEBP", {"quality": 85, "method": 4}),
}
_ENCRYPTED_MESSAGE = "the PDF is password-protected or encrypted; please upload an unprotected file"
_MAX_USER_UNIT = 75000.0
_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive or an Office document (convert it to PDF first)"),
    (b"\xd0\xcf\x11\xe0", "an old-style Office document (convert it to PDF first)"),
    (b"{\\rtf", "an RTF document (convert it to PDF first)"),
)


class PageSize(NamedTuple):
    """The displayed size of a page in PDF points (1/72 inch), after /Rotate and /UserUnit.

    Immutable; a named tuple so that ``width, height = size`` works where plain pairs are expected.
    """

    width: float
    height: float

    @property
    def is_landscape(self) -> bool:
        """True when the displayed page is wider than it is tall."""
        return self.width > self.height


def _box(page: pikepdf.Dictionary, key: str) -> tuple[float, float, float, float] | None:
    value = page.get(key)
    if not isinstance(value, pikepdf.Array) or len(value) != 4:
        return None
    try:
        x1, y1, x2, y2 = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _number(value: object, default: float) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return default


def page_size_of(page: pikepdf.Page, index: int = 0) -> PageSize:
    """The displayed size of a pikepdf page: CropBox clipped to MediaBox, rotated, times /UserUnit.

    Raises :class:`BrokenPdfError` when the page has no usable MediaBox. ``index`` is only used in
    the message.
    """
    try:
        obj = page.obj
        media = _box(obj, "/MediaBox")
        if media is None or media[2] - media[0] <= 0 or media[3] - media[1] <= 0:
            raise BrokenPdfError(f"page {index + 1} has no valid page size (MediaBox)")
        crop = _box(obj, "/CropBox") or media
        x1, y1 = max(crop[0], media[0]), max(crop[1], media[1])
        x2, y2 = min(crop[2], media[2]), min(crop[3], media[3])
        if x2 <= x1 or y2 <= y1:  # a crop box outside the media box is ignored, as viewers do
            x1, y1, x2, y2 = media
        rotate = _number(obj.get("/Rotate", 0), 0.0)
        unit = _number(obj.get("/UserUnit", 1), 1.0)
    except PdfError:
        raise
    except Exception as exc:  # pikepdf raises several types on damaged page dictionaries
        raise BrokenPdfError(f"page {index + 1} cannot be measured: {exc}") from exc
    if not 0 < unit <= _MAX_USER_UNIT:
        unit = 1.0
    width, height = (x2 - x1) * unit, (y2 - y1) * unit
    if rotate % 90 == 0 and int(rotate) % 180 == 90:
        width, height = height, width
    return PageSize(width=round(width, 4), height=round(height, 4))


def check_pdf_header(data: bytes) -> None:
    """Raise :class:`NotAPdfError`, saying what the file looks like, unless it starts as a PDF.

    A PDF is recognised by content: ``%PDF-`` within the first 1024 bytes, whatever its name.
    """
    if not data:
        raise NotAPdfError("the file is empty")
    if b"%PDF-" in bytes(data[:1024]):
        return
    kind = next((name for magic, name in _MAGIC if bytes(data[:8]).startswith(magic)), None)
    if kind is None:
        text = bytes(data[:1024]).decode("utf-8", errors="replace")
        # One replacement character is allowed: the sample may end inside a multi-byte character.
        printable = all(ch.isprintable() or ch in "\t\r\n\ufffd" for ch in text)
        is_text = printable and text.count("\ufffd") <= 1
        kind = "a text file" if is_text else "an unknown kind of file"
    raise NotAPdfError(f"the file is not a PDF document (no %PDF- header); it looks like {kind}")


def error_text(exc: BaseException) -> str:
    """A library exception's message, shortened, without qpdf's ``stream <_io.BytesIO ...>:``."""
    text = str(exc) or type(exc).__name__
    if text.startswith("stream <") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return text[:300]


def open_pikepdf(data: bytes) -> pikepdf.Pdf:
    """Open PDF bytes with pikepdf, turning every failure into a :class:`PdfError` subclass.

    Encrypted documents are refused even when they open without a password. The caller closes the
    returned document.
    """
    check_pdf_header(data)
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as exc:
        raise EncryptedPdfError(_ENCRYPTED_MESSAGE) from exc
    except Exception as exc:  # qpdf errors, and anything else a hostile file can provoke
        raise BrokenPdfError(f"the PDF is damaged and cannot be read: {error_text(exc)}") from exc
    if pdf.is_encrypted:
        pdf.close()
        raise EncryptedPdfError(_ENCRYPTED_MESSAGE)
    return pdf


def page_sizes(data: bytes) -> tuple[PageSize, ...]:
    """The displayed size of every page of a PDF, in points (see :class:`PageSize`)."""
    pdf = open_pikepdf(data)
    try:
        try:
            pages = list(pdf.pages)
        except Exception as exc:
            raise BrokenPdfError(
                f"the pages of the PDF cannot be found: {error_text(exc)}"
            ) from exc
        if not pages:
            raise BrokenPdfError("the PDF has no pages")
        return tuple(page_size_of(page, index) for index, page in enumerate(pages))
    finally:
        pdf.close()


def _check_request(width_px: int, fmt: str) -> None:
    if not isinstance(width_px, int) or not MIN_WIDTH_PX <= width_px <= MAX_WIDTH_PX:
        raise PdfError(
            f"the image width must be between {MIN_WIDTH_PX} and {MAX_WIDTH_PX} pixels, "
            f"not {width_px!r}",
            code="render_width",
        )
    if fmt not in _FORMATS:
        raise PdfError(
            f"the image format must be one of {', '.join(_FORMATS)}, not {fmt!r}",
            code="render_format",
        )


@contextmanager
def _pdfium_document(data: bytes) -> Iterator[pdfium.PdfDocument]:
    import pypdfium2 as pdfium  # imported by the first rendering, not at start-up

    check_pdf_header(data)
    try:
        document = pdfium.PdfDocument(bytes(data))
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium.raw.FPDF_ERR_PASSWORD:
            raise EncryptedPdfError(_ENCRYPTED_MESSAGE) from exc
        raise BrokenPdfError(f"the PDF is damaged and cannot be rendered: {exc}") from exc
    except Exception as exc:
        raise BrokenPdfError(f"the PDF cannot be rendered: {exc}") from exc
    try:
        if pdfium.raw.FPDF_GetSecurityHandlerRevision(document.raw) != -1:
            raise EncryptedPdfError(_ENCRYPTED_MESSAGE)  # opened with an empty user password
        try:
            # Without a form environment PDFium skips widget appearances, signatures included.
            document.init_forms()
        except Exception as exc:
            raise BrokenPdfError(f"the forms of the PDF cannot be loaded: {exc}") from exc
        yield document
    finally:
        document.close()


def _render(document: pdfium.PdfDocument, page_index: int, width_px: int, fmt: str) -> bytes:
    count = len(document)
    if isinstance(page_index, bool) or not isinstance(page_index, int):
        raise PdfError(f"the page index must be an integer, not {page_index!r}", code="page_index")
    if not 0 <= page_index < count:
        raise PdfError(
            f"page index {page_index} is out of range: the document has {count} page(s), "
            f"numbered from 0 to {count - 1}",
            code="page_index",
        )
    try:
        page = document[page_index]
        try:
            width_pt, height_pt = page.get_size()
            if width_pt <= 0 or height_pt <= 0:
                raise BrokenPdfError(f"page {page_index + 1} has no valid size")
            height_px = round(width_px * height_pt / width_pt)
            if height_px > MAX_HEIGHT_PX:
                raise PdfTooLargeError(
                    f"page {page_index + 1} is too tall to render at {width_px} px wide "
                    f"({height_px} px; the limit is {MAX_HEIGHT_PX} px)"
                )
            bitmap = page.render(
                scale=width_px / width_pt,
                may_draw_forms=True,
                draw_annots=True,
                fill_color=(255, 255, 255, 255),
            )
            image = bitmap.to_pil().convert("RGB")
        finally:
            page.close()
    except PdfError:
        raise
    except Exception as exc:
        raise BrokenPdfError(f"page {page_index + 1} cannot be rendered: {exc}") from exc
    if image.width != width_px:  # PDFium rounds the scaled size; keep the promised width exact
        image = image.resize((width_px, max(1, round(image.height * width_px / image.width))))
    pil_format, options = _FORMATS[fmt]
    out = io.BytesIO()
    image.save(out, format=pil_format, **options)
    return out.getvalue()


def render_page(
    data: bytes, page_index: int, *, width_px: int = 1000, fmt: ImageFormat = "png"
) -> bytes:
    """Render one page (0-based ``page_index``) as a PNG, JPEG or WebP image ``width_px`` wide.

    Annotations and form fields are drawn, so signature and seal appearances are visible. The width
    must be between 100 and 3000 pixels. Raises :class:`PdfError` (code ``page_index``) for a page
    index out of range, and the usual :class:`PdfError` subclasses for unreadable input.

    Not thread-safe (PDFium): use processes, not threads, to render in parallel.
    """
    _check_request(width_px, fmt)
    with _pdfium_document(data) as document:
        return _render(document, page_index, width_px, fmt)


def render_thumbnails(data: bytes, width_px: int = 200, *, fmt: ImageFormat = "png") -> list[bytes]:
    """Render every page as an image ``width_px`` wide, in page order (see :func:`render_page`).

    Not thread-safe (PDFium): use processes, not threads, to render in parallel.
    """
    _check_request(width_px, fmt)
    with _pdfium_document(data) as document:
        return [_render(document, index, width_px, fmt) for index in range(len(document))]


class TextHit(NamedTuple):
    """Where words stand on a page: the page (0-based) and the box around them in the page's
    user space (PDF points, origin bottom-left), and the top of the page's box."""

    page: int
    x1: float
    y1: float
    x2: float
    y2: float
    page_top: float


def find_text(data: bytes, words: str) -> TextHit | None:
    """The first occurrence of ``words`` in the document's text (契约锁 关键字定位), page by page,
    or None. Not thread-safe (PDFium)."""
    if not words:
        return None
    with _pdfium_document(data) as document:
        for index in range(len(document)):
            page = document[index]
            text = page.get_textpage()
            found = text.search(words).get_next()
            if found is None:
                continue
            start, count = found
            rects = [text.get_rect(i) for i in range(text.count_rects(start, count))]
            if not rects:
                continue
            return TextHit(
                page=index,
                x1=min(r[0] for r in rects),
                y1=min(r[1] for r in rects),
                x2=max(r[2] for r in rects),
                y2=max(r[3] for r in rects),
                page_top=page.get_bbox()[3],
            )
    return None
