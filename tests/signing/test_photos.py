"""Clean-up of photographed signatures and seal imprints (plain library tests, no database)."""

from __future__ import annotations

import io
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from qianshu.signing import fonts, seals
from qianshu.signing.errors import ImageError, NoInkError
from qianshu.signing.photos import SEAL_INK, clean_seal_photo, clean_signature_image

PRINT_FONT = fonts.SANS_REGULAR
PEN = (25, 28, 60)  # blue-black ballpoint


# --------------------------------------------------------------------------------------------
# Synthetic photos
# --------------------------------------------------------------------------------------------


def _paper(width: int = 1200, height: int = 800, seed: int = 1) -> Image.Image:
    """Off-white paper photographed with light falling off to one side, a shadow and noise."""
    rng = np.random.default_rng(seed)
    shade = np.linspace(1.0, 0.62, width)[None, :] * np.linspace(1.0, 0.9, height)[:, None]
    yy, xx = np.mgrid[0:height, 0:width]
    shadow = 1 - 0.25 * np.exp(
        -(((xx - width * 0.2) / (width * 0.15)) ** 2 + ((yy - height) / (height * 0.4)) ** 2)
    )
    base = 238 * (shade * shadow)[..., None] * np.array([1.0, 0.99, 0.95])
    noisy = base + rng.normal(0, 4, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def _encode(img: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def _handwriting(draw: ImageDraw.ImageDraw, fill: int | tuple[int, int, int]) -> None:
    """A scrawled signature: loops and strokes of varying thickness, an underline and a dot."""
    t = np.linspace(0, 1, 400)
    for k, (x0, width) in enumerate(((180, 260), (470, 220), (720, 240))):
        xs = x0 + width * t + 40 * np.sin(t * math.tau * 2 + k)
        ys = 330 + 120 * np.sin(t * math.tau * (1.5 + 0.3 * k)) * np.cos(t * math.pi)
        points = list(zip(xs.tolist(), ys.tolist(), strict=True))
        for i in range(0, len(points) - 1, 4):
            thickness = int(7 + 5 * math.sin(i / 40 + k))
            draw.line(points[i : i + 5], fill=fill, width=thickness, joint="curve")
    draw.line([(170, 560), (520, 520), (980, 545)], fill=fill, width=8, joint="curve")
    draw.ellipse((1000, 300, 1016, 316), fill=fill)  # a dot after the name


def _signature_photo(specks: bool = True) -> tuple[Image.Image, np.ndarray]:
    """The photo and the true ink mask (before blur and noise)."""
    img = _paper()
    _handwriting(ImageDraw.Draw(img), PEN)
    truth = Image.new("L", img.size, 0)
    _handwriting(ImageDraw.Draw(truth), 255)
    if specks:  # dust: single dark pixels and tiny dots all over the page
        rng = np.random.default_rng(5)
        draw = ImageDraw.Draw(img)
        for x, y in rng.integers(0, (1200, 800), size=(60, 2)):
            r = int(rng.integers(0, 2))
            draw.ellipse((int(x), int(y), int(x) + r, int(y) + r), fill=(70, 70, 70))
    return img.filter(ImageFilter.GaussianBlur(1.2)), np.asarray(truth) > 127


def _print_text(draw: ImageDraw.ImageDraw, fill: int | tuple[int, int, int]) -> None:
    font = ImageFont.truetype(PRINT_FONT, 34, index=fonts.SC_FACE)
    for i in range(12):
        draw.text(
            (60, 60 + i * 58),
            "甲方：某某有限公司  合同编号 QS-2026-0001  金额 ¥123,456.00",
            font=font,
            fill=fill,
        )


SEAL_AT = (520, 160)


def _seal_photo(red_tick: bool = False) -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """A contract photo with print, blue pen and a rotated, faded, blurred seal over the text.

    Returns the photo, the true seal mask and the printed-text mask.
    """
    img = _paper(seed=7)
    draw = ImageDraw.Draw(img)
    _print_text(draw, (20, 20, 20))
    text = Image.new("L", img.size, 0)
    _print_text(ImageDraw.Draw(text), 255)
    draw.line([(100, 700), (700, 650)], fill=(20, 40, 170), width=6)  # blue pen
    png = seals.render_round_seal(
        seals.RoundSealSpec(org_name="厦门某某科技有限公司", seal_name="合同专用章", size_px=420)
    )
    seal = Image.open(io.BytesIO(png)).rotate(12, expand=True, resample=Image.Resampling.BICUBIC)
    ink = Image.new("RGBA", seal.size, (205, 40, 50, 0))
    ink.putalpha(seal.getchannel("A").point(lambda a: int(a * 0.85)))
    img.paste(ink, SEAL_AT, ink)
    truth = Image.new("L", img.size, 0)
    truth.paste(seal.getchannel("A"), SEAL_AT)
    if red_tick:  # a red pen tick far away from the seal
        draw.line([(60, 740), (80, 760), (120, 715)], fill=(200, 30, 40), width=5)
    photo = img.filter(ImageFilter.GaussianBlur(0.8))
    return photo, np.asarray(truth) > 127, np.asarray(text) > 127


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _open(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.mode == "RGBA"
    return img


def _alpha(img: Image.Image) -> np.ndarray:
    return np.asarray(img.getchannel("A"))


def _colours(img: Image.Image) -> set[tuple[int, int, int]]:
    rgba = np.asarray(img)
    return {(int(r), int(g), int(b)) for r, g, b, _ in rgba[rgba[..., 3] > 0]}


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _aligned(mask: np.ndarray, box: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """``mask`` cropped to ``box`` and scaled to ``size`` (to compare with a cleaned output)."""
    crop = Image.fromarray(mask.astype(np.uint8) * 255).crop(box)
    return np.asarray(crop.resize(size, Image.Resampling.BILINEAR)) > 127


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def _save(artifacts_dir: Path, name: str, data: bytes) -> None:
    folder = artifacts_dir / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


@pytest.fixture(scope="module")
def signature() -> tuple[bytes, np.ndarray]:
    photo, truth = _signature_photo()
    return _encode(photo, "JPEG", quality=88), truth


# --------------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------------


def test_signature_becomes_cropped_transparent_ink(
    signature: tuple[bytes, np.ndarray], artifacts_dir: Path
) -> None:
    photo, truth = signature
    out = clean_signature_image(photo)
    _save(artifacts_dir, "signature-before.jpg", photo)
    _save(artifacts_dir, "signature-after.png", out)
    img = _open(out)
    alpha = _alpha(img)
    assert max(img.size) == 600  # scaled down to max_px
    for corner in (alpha[0, 0], alpha[0, -1], alpha[-1, 0], alpha[-1, -1]):
        assert corner == 0
    # Cropped to the strokes: the ink's box fills the image up to a small margin, and it has
    # the shape of the true strokes (dust and the shadowed paper did not widen it).
    inked = alpha > 127
    x0, y0, x1, y1 = _box(inked)
    assert x0 <= 0.06 * img.width and img.width - x1 <= 0.06 * img.width
    assert y0 <= 0.1 * img.height and img.height - y1 <= 0.1 * img.height
    tx0, ty0, tx1, ty1 = _box(truth)
    assert (x1 - x0) / (y1 - y0) == pytest.approx((tx1 - tx0) / (ty1 - ty0), rel=0.05)
    # The strokes themselves: opaque where the pen was, transparent elsewhere.
    expected = _aligned(truth, (tx0, ty0, tx1, ty1), (x1 - x0, y1 - y0))
    assert _iou(inked[y0:y1, x0:x1], expected) > 0.75
    assert (alpha >= 200).sum() > 0.6 * expected.sum()  # thin strokes get partial alpha
    assert (alpha == 255).sum() > 0.25 * expected.sum()
    assert 0 < ((alpha > 0) & (alpha < 255)).sum()  # soft, anti-aliased edges
    # One ink colour, dark and bluish like the pen.
    colours = _colours(img)
    assert len(colours) == 1
    r, g, b = colours.pop()
    assert max(r, g, b) < 80 and b > r


def test_signature_is_deterministic_and_respects_exif(signature: tuple[bytes, np.ndarray]) -> None:
    photo, _ = signature
    assert clean_signature_image(photo) == clean_signature_image(photo)
    rotated = _signature_photo()[0].rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90 CW to view": the camera was held sideways
    img = _open(clean_signature_image(_encode(rotated, "JPEG", exif=exif)))
    assert img.width > 1.5 * img.height  # upright again: the signature is wide


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_common_formats_are_read(fmt: str) -> None:
    photo, _ = _signature_photo(specks=False)
    img = _open(clean_signature_image(_encode(photo.resize((600, 400)), fmt)))
    assert img.width > 1.5 * img.height and _alpha(img).max() == 255


def test_grey_16_bit_and_transparent_inputs_are_read() -> None:
    photo, _ = _signature_photo(specks=False)
    grey16 = Image.fromarray(np.asarray(photo.convert("L"), dtype=np.uint16) * 257)
    assert _alpha(_open(clean_signature_image(_encode(grey16)))).max() == 255
    # An already transparent signature: transparency is paper, not ink.
    clear = Image.new("RGBA", (600, 400), (0, 0, 0, 0))
    ImageDraw.Draw(clear).line([(50, 200), (300, 120), (550, 260)], fill=(0, 0, 0, 255), width=10)
    img = _open(clean_signature_image(_encode(clear)))
    assert img.width > 2 * img.height and _alpha(img)[0, 0] == 0


def test_max_px_is_respected_and_validated(signature: tuple[bytes, np.ndarray]) -> None:
    photo, _ = signature
    assert max(_open(clean_signature_image(photo, max_px=100)).size) == 100
    small, _ = _signature_photo(specks=False)
    small_png = _encode(small.resize((300, 200)))
    assert max(_open(clean_signature_image(small_png, max_px=2000)).size) < 300  # no upscaling
    for bad in (5, 0, 10_000, 1.5, "600"):
        with pytest.raises(ImageError, match="max_px"):
            clean_signature_image(photo, max_px=bad)  # type: ignore[arg-type]
    assert _colours(_open(clean_signature_image(photo, ink_color=(0, 0, 0)))) == {(0, 0, 0)}
    with pytest.raises(ImageError, match="colour"):
        clean_signature_image(photo, ink_color=(0, 0, 300))
    with pytest.raises(ImageError, match="colour"):
        clean_seal_photo(photo, color="red")  # type: ignore[arg-type]


def _blank_page(kind: str) -> bytes:
    rng = np.random.default_rng(11)
    if kind == "shaded paper":
        return _encode(_paper(seed=3), "JPEG")
    if kind == "grain":  # paper grain only
        return _encode(
            Image.fromarray(np.clip(235 + rng.normal(0, 6, (600, 800)), 0, 255).astype(np.uint8))
        )
    if kind == "noise":  # pure noise: no paper, no strokes
        return _encode(Image.fromarray(rng.integers(0, 256, (600, 800, 3)).astype(np.uint8)))
    colour = {"grey": (128, 128, 128), "white": (255, 255, 255), "black": (0, 0, 0)}[kind]
    return _encode(Image.new("RGB", (400, 300), colour))


@pytest.mark.parametrize("kind", ["shaded paper", "grain", "noise", "grey", "white", "black"])
def test_pages_without_handwriting_have_no_ink(kind: str) -> None:
    with pytest.raises(NoInkError, match="no handwriting found"):
        clean_signature_image(_blank_page(kind))


# --------------------------------------------------------------------------------------------
# Seal imprints
# --------------------------------------------------------------------------------------------


def test_seal_photo_keeps_only_the_red_ink(artifacts_dir: Path) -> None:
    photo, seal, text = _seal_photo(red_tick=True)
    data = _encode(photo, "JPEG", quality=90)
    out = clean_seal_photo(data)
    _save(artifacts_dir, "seal-before.jpg", data)
    _save(artifacts_dir, "seal-after.png", out)
    img = _open(out)
    alpha = _alpha(img)
    assert max(img.size) <= 400
    assert _colours(img) == {SEAL_INK}
    for corner in (alpha[0, 0], alpha[0, -1], alpha[-1, 0], alpha[-1, -1]):
        assert corner == 0
    # Cropped to the seal (the red tick far away is left out): the seal's box, square-ish.
    inked = alpha > 127
    x0, y0, x1, y1 = _box(inked)
    sx0, sy0, sx1, sy1 = _box(seal)
    assert (x1 - x0) / (y1 - y0) == pytest.approx((sx1 - sx0) / (sy1 - sy0), rel=0.05)
    assert x0 <= 0.06 * img.width and img.width - x1 <= 0.06 * img.width
    # Seal strokes are kept (except where black print covers them) ...
    size = (x1 - x0, y1 - y0)
    seal_in_out = _aligned(seal, (sx0, sy0, sx1, sy1), size)
    print_in_out = _aligned(text, (sx0, sy0, sx1, sy1), size)
    red_only = seal_in_out & ~print_in_out
    assert inked[y0:y1, x0:x1][red_only].mean() > 0.8
    # ... and the black print and paper around the strokes are gone.
    grown = np.asarray(
        Image.fromarray(seal_in_out.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(5))
    )
    print_only = print_in_out & (grown == 0)
    assert print_only.sum() > 1000
    assert alpha[y0:y1, x0:x1][print_only].mean() < 3
    assert _iou(inked[y0:y1, x0:x1], seal_in_out) > 0.7
    assert clean_seal_photo(data) == out


def test_photo_without_red_has_no_seal() -> None:
    photo, _, _ = _seal_photo()
    with pytest.raises(NoInkError, match="seal"):
        clean_seal_photo(_encode(photo.convert("L").convert("RGB"), "JPEG"))
    with pytest.raises(NoInkError):  # print and blue pen only
        clean_seal_photo(_encode(photo.crop((0, 0, 500, 800)), "JPEG"))
    with pytest.raises(NoInkError):
        clean_seal_photo(_encode(Image.new("RGB", (500, 500), (200, 30, 40))))  # a red wall


# --------------------------------------------------------------------------------------------
# Hostile and broken input
# --------------------------------------------------------------------------------------------


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _bmp_claiming(width: int, height: int) -> bytes:
    header = struct.pack("<2sIHHI", b"BM", 54, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return header + info


def test_decompression_bombs_are_refused() -> None:
    for data in (
        _png_claiming(60000, 60000),
        _png_claiming(9000, 9000),
        _bmp_claiming(20000, 20000),
    ):
        with pytest.raises(ImageError, match="too large"):
            clean_signature_image(data)
        with pytest.raises(ImageError, match="too large"):
            clean_seal_photo(data)


def _truncated_jpeg() -> bytes:
    photo, _ = _signature_photo(specks=False)
    data = _encode(photo, "JPEG")
    return data[: len(data) // 3]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, I am a text file\n",
        bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8)),
        b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n",
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n",
        _truncated_jpeg(),
        "not bytes",
    ],
    ids=["empty", "text", "random", "pdf", "eps", "truncated-jpeg", "str"],
)
def test_non_images_are_refused(data: bytes) -> None:
    for clean in (clean_signature_image, clean_seal_photo):
        with pytest.raises(ImageError) as raised:
            clean(data)
        assert not isinstance(raised.value, NoInkError)  # "not an image", not "blank image"
