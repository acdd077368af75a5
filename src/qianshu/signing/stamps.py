"""Visible stamps: images (handwritten signatures, seals, date and text) as signature appearances.

Every visible mark Qianshu puts on a page is the appearance of a signature field, so adding it
is "form filling" for earlier signatures, never a page content change. Appearances blend with
the page like ink (multiply): see :func:`appearance_stream`.

Encoding an image into PDF streams is the costly part of a visible signature (pyHanko's
``PdfImage`` re-encodes on every use). :class:`StampImage` encodes once — Flate-compressed RGB
and a separate alpha soft mask — and can be reused for any number of documents: callers should
keep one per seal or signature image (e.g. in a dict keyed by :attr:`StampImage.sha256`).
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import BasePdfFileWriter

from qianshu.signing import fonts
from qianshu.signing.errors import ConfigurationError, ImageError

MAX_STAMP_PX = 2000


@dataclass(frozen=True)
class StampImage:
    """An RGBA image pre-encoded as PDF image data (RGB + alpha soft mask)."""

    width: int
    height: int
    rgb_flate: bytes
    alpha_flate: bytes | None
    sha256: str

    @classmethod
    def from_png(cls, data: bytes) -> StampImage:
        """Decode a PNG (or any Pillow-readable image) and encode it for PDF."""
        try:
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > MAX_STAMP_PX * MAX_STAMP_PX:
                    raise ImageError("the stamp image is too large")
                img.load()
                return cls.from_image(img, hashlib.sha256(data).hexdigest())
        except ImageError:
            raise
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise ImageError(f"not a usable image: {exc}") from exc

    @classmethod
    def from_image(cls, img: Image.Image, sha256: str | None = None) -> StampImage:
        rgba = img.convert("RGBA")
        if rgba.width < 1 or rgba.height < 1:
            raise ImageError("empty stamp image")
        if sha256 is None:
            sha256 = hashlib.sha256(rgba.tobytes()).hexdigest()
        rgb = rgba.convert("RGB").tobytes()
        alpha_band = rgba.getchannel("A")
        alpha_lo, _ = alpha_band.getextrema()
        alpha = None if alpha_lo == 255 else zlib.compress(alpha_band.tobytes(), 6)
        return cls(rgba.width, rgba.height, zlib.compress(rgb, 6), alpha, sha256)

    def crop(self, left: int, top: int, right: int, bottom: int) -> StampImage:
        """A part of this image (for cross-page seal slices)."""
        rgb = Image.frombytes("RGB", (self.width, self.height), zlib.decompress(self.rgb_flate))
        img = rgb.convert("RGBA")
        if self.alpha_flate is not None:
            img.putalpha(
                Image.frombytes("L", (self.width, self.height), zlib.decompress(self.alpha_flate))
            )
        part = img.crop((left, top, right, bottom))
        return StampImage.from_image(part, f"{self.sha256}:{left},{top},{right},{bottom}")


# Seals and signatures are ink: painted with multiply blending, red over black text stays black
# and the text under a seal stays readable (normal blending would cover it with seal red).
_MULTIPLY = "/QSMultiply"
_IMAGE = "/QSStamp"


def _image_xobject(writer: BasePdfFileWriter, image: StampImage) -> generic.IndirectObject:
    common = {
        pdf_name("/Type"): pdf_name("/XObject"),
        pdf_name("/Subtype"): pdf_name("/Image"),
        pdf_name("/Width"): generic.NumberObject(image.width),
        pdf_name("/Height"): generic.NumberObject(image.height),
        pdf_name("/BitsPerComponent"): generic.NumberObject(8),
        pdf_name("/Filter"): pdf_name("/FlateDecode"),
    }
    attrs = dict(common)
    attrs[pdf_name("/ColorSpace")] = pdf_name("/DeviceRGB")
    if image.alpha_flate is not None:
        mask_attrs = dict(common)
        mask_attrs[pdf_name("/ColorSpace")] = pdf_name("/DeviceGray")
        mask = generic.StreamObject(
            generic.DictionaryObject(mask_attrs), encoded_data=image.alpha_flate
        )
        attrs[pdf_name("/SMask")] = writer.add_object(mask)
    stream = generic.StreamObject(generic.DictionaryObject(attrs), encoded_data=image.rgb_flate)
    return writer.add_object(stream)


def pdf_number(value: float) -> bytes:
    """``value`` as a content-stream number: at most 4 decimals, no trailing zeros, never
    ``-0``."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return (text if text not in ("", "-0") else "0").encode("ascii")


def appearance_stream(
    writer: BasePdfFileWriter, image: StampImage, width: float, height: float
) -> generic.IndirectObject:
    """A form XObject of ``width`` x ``height`` points showing ``image`` fitted in it (aspect
    kept, centred), painted with multiply blending (``/BM /Multiply``)."""
    if width <= 0 or height <= 0:
        raise ImageError("a stamp needs a box with a positive width and height")
    scale = min(width / image.width, height / image.height)
    w, h = image.width * scale, image.height * scale
    x, y = (width - w) / 2, (height - h) / 2
    content = b"q %s gs %s 0 0 %s %s %s cm %s Do Q" % (
        _MULTIPLY.encode("ascii"),
        pdf_number(w),
        pdf_number(h),
        pdf_number(x),
        pdf_number(y),
        _IMAGE.encode("ascii"),
    )
    multiply = generic.DictionaryObject(
        {pdf_name("/Type"): pdf_name("/ExtGState"), pdf_name("/BM"): pdf_name("/Multiply")}
    )
    resources = generic.DictionaryObject(
        {
            pdf_name("/XObject"): generic.DictionaryObject(
                {pdf_name(_IMAGE): _image_xobject(writer, image)}
            ),
            pdf_name("/ExtGState"): generic.DictionaryObject({pdf_name(_MULTIPLY): multiply}),
        }
    )
    form = generic.StreamObject(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Form"),
                pdf_name("/BBox"): generic.ArrayObject(
                    [generic.NumberObject(0), generic.NumberObject(0)]
                    + [generic.FloatObject(round(v, 4)) for v in (width, height)]
                ),
                pdf_name("/Resources"): resources,
            }
        ),
        stream_data=content,
    )
    return writer.add_object(form)


@lru_cache(maxsize=8)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(path, size, index=fonts.collection_index(path))
    except OSError as exc:
        raise ConfigurationError(f"cannot load font {path}: {exc}") from exc


def render_text_image(
    text: str,
    *,
    height_px: int = 64,
    color: tuple[int, int, int] = (20, 20, 20),
    font_path: str = fonts.SANS_REGULAR,
) -> bytes:
    """Render one line of text (a signing date, a filled-in text field) to a transparent PNG."""
    text = text.strip()
    if not text or len(text) > 200:
        raise ImageError("stamp text must be 1 to 200 characters")
    font = _font(font_path, int(height_px * 0.75))
    left, top, right, bottom = font.getbbox(text)
    img = Image.new("RGBA", (int(right - left) + 8, height_px), (*color, 0))
    draw = ImageDraw.Draw(img)
    draw.text(
        (4 - left, (height_px - (bottom - top)) // 2 - top), text, font=font, fill=(*color, 255)
    )
    out = io.BytesIO()
    img.save(out, "PNG", optimize=False)
    return out.getvalue()


@dataclass(frozen=True)
class Rect:
    """A rectangle on a page, in PDF points, origin bottom-left."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)


def cross_page_slices(
    page_boxes: Sequence[Rect],
    pages: Sequence[int],
    *,
    seal_size_pt: float,
    center_y_pt: float | None = None,
) -> list[tuple[int, Rect]]:
    """Rectangles of a cross-page seal (骑缝章): one slice per page on the right page edge.

    The seal of ``seal_size_pt`` is cut vertically into ``len(pages)`` equal strips; strip *i*
    sits flush with the right edge of page ``pages[i]`` (in the page's unrotated coordinates,
    see :func:`qianshu.signing.documents.page_boxes`). Laid side by side — the pages fanned
    out — the strips make the whole seal. ``center_y_pt`` defaults to the middle of each page.
    """
    if len(pages) < 2:
        raise ImageError("a cross-page seal needs at least two pages")
    if len(set(pages)) != len(pages):
        raise ImageError("a cross-page seal lists a page twice")
    strip = seal_size_pt / len(pages)
    out = []
    for page in pages:
        if not 0 <= page < len(page_boxes):
            raise ImageError(f"page {page + 1} does not exist")
        box = page_boxes[page]
        half = seal_size_pt / 2
        cy = (box.y1 + box.y2) / 2 if center_y_pt is None else center_y_pt
        cy = min(max(cy, box.y1 + half), box.y2 - half)
        out.append((page, Rect(box.x2 - strip, cy - half, box.x2, cy + half)))
    return out


def slice_image(image: StampImage, parts: int) -> list[StampImage]:
    """Cut ``image`` into ``parts`` vertical strips, left to right."""
    if parts < 1:
        raise ImageError("cannot slice into fewer than one part")
    edges = [round(i * image.width / parts) for i in range(parts + 1)]
    return [image.crop(edges[i], 0, edges[i + 1], image.height) for i in range(parts)]
