"""Clean-up of photographed signatures and seal imprints."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from qianshu.signing import seals
from qianshu.signing.errors import ImageError, NoInkError
from qianshu.signing.photos import SEAL_INK, clean_seal_photo, clean_signature_image

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def _paper(width: int = 1200, height: int = 800, seed: int = 1) -> Image.Image:
    """Off-white paper photographed with a shadow across it and sensor noise."""
    rng = np.random.default_rng(seed)
    shade = np.linspace(1.0, 0.62, width)[None, :] * np.linspace(1.0, 0.9, height)[:, None]
    base = 238 * shade[..., None] * np.array([1.0, 0.99, 0.95])
    noisy = base + rng.normal(0, 4, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def _png(img: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def _signature_photo() -> Image.Image:
    img = _paper()
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 260, index=2)
    draw.text((200, 200), "张三", font=font, fill=(25, 28, 60))
    draw.line([(180, 620), (900, 600)], fill=(25, 28, 60), width=9)
    return img.filter(ImageFilter.GaussianBlur(1.2))


@pytest.fixture(scope="module")
def signature_photo() -> bytes:
    return _png(_signature_photo(), "JPEG")


def _alpha(png: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.mode == "RGBA"
    return np.asarray(img.getchannel("A"))


def test_signature_becomes_cropped_transparent_ink(
    signature_photo: bytes, artifacts_dir: Path
) -> None:
    out = clean_signature_image(signature_photo)
    folder = artifacts_dir / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "signature-before.jpg").write_bytes(signature_photo)
    (folder / "signature-after.png").write_bytes(out)
    img = Image.open(io.BytesIO(out))
    alpha = _alpha(out)
    assert max(img.size) <= 600
    assert img.width < 1200 * 0.7 and img.height < 800 * 0.8  # cropped to the ink
    for corner in (alpha[0, 0], alpha[0, -1], alpha[-1, 0], alpha[-1, -1]):
        assert corner == 0
    assert (alpha > 200).mean() > 0.05  # strokes are opaque
    # The shadowed right part of the paper does not turn into ink.
    assert (alpha > 128).mean() < 0.45
    # One ink colour, dark and bluish like the pen.
    rgb = {px[:3] for px in img.get_flattened_data() if px[3] > 0}
    assert len(rgb) == 1
    r, g, b = rgb.pop()
    assert max(r, g, b) < 80 and b >= r


def test_signature_is_deterministic_and_respects_exif(signature_photo: bytes) -> None:
    assert clean_signature_image(signature_photo) == clean_signature_image(signature_photo)
    rotated = _signature_photo().rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90 CW to view": the camera held sideways
    out = io.BytesIO()
    rotated.save(out, "JPEG", exif=exif)
    img = Image.open(io.BytesIO(clean_signature_image(out.getvalue())))
    assert img.width > img.height  # upright again: the signature is wide


def test_blank_paper_has_no_ink() -> None:
    with pytest.raises(NoInkError):
        clean_signature_image(_png(_paper(seed=3), "JPEG"))
    with pytest.raises(NoInkError):
        clean_signature_image(_png(Image.new("RGB", (400, 300), (128, 128, 128))))


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, I am a text file", bytes(range(256)) * 10, b"%PDF-1.7\n1 0 obj\n"],
    ids=["empty", "text", "random", "pdf"],
)
def test_non_images_are_refused(data: bytes) -> None:
    with pytest.raises(ImageError):
        clean_signature_image(data)
    with pytest.raises(ImageError):
        clean_seal_photo(data)


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_decompression_bombs_are_refused() -> None:
    with pytest.raises(ImageError, match="too large"):
        clean_signature_image(_png_claiming(60000, 60000))
    with pytest.raises(ImageError):
        clean_seal_photo(_png_claiming(9000, 9000))


def _seal_photo() -> Image.Image:
    img = _paper(seed=7)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 34, index=2)
    for i in range(12):  # printed contract text under and around the seal
        draw.text(
            (60, 60 + i * 58),
            "甲方：某某有限公司  合同编号 QS-2026-0001  金额 ¥123,456.00",
            font=font,
            fill=(20, 20, 20),
        )
    draw.line([(100, 700), (700, 650)], fill=(20, 40, 170), width=6)  # blue pen
    seal = Image.open(
        io.BytesIO(
            seals.render_round_seal(
                seals.RoundSealSpec(
                    org_name="厦门某某科技有限公司", seal_name="合同专用章", size_px=420
                )
            )
        )
    ).rotate(12, expand=True, resample=Image.Resampling.BICUBIC)
    # Ink on paper: multiply-like, slightly faded and blurred.
    faded = Image.new("RGBA", seal.size, (205, 40, 50, 0))
    faded.putalpha(seal.getchannel("A").point(lambda a: int(a * 0.85)))
    img.paste(faded, (520, 160), faded)
    return img.filter(ImageFilter.GaussianBlur(0.8))


def test_seal_photo_keeps_only_the_red_ink(artifacts_dir: Path) -> None:
    photo = _png(_seal_photo(), "JPEG")
    out = clean_seal_photo(photo)
    folder = artifacts_dir / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "seal-before.jpg").write_bytes(photo)
    (folder / "seal-after.png").write_bytes(out)
    img = Image.open(io.BytesIO(out))
    alpha = _alpha(out)
    assert max(img.size) <= 400
    # Cropped to the (rotated) seal, roughly square.
    assert 0.8 < img.width / img.height < 1.25
    assert {px[:3] for px in img.get_flattened_data() if px[3] > 0} == {SEAL_INK}
    # The ring is there: opaque pixels near the edge of the crop, transparent corners.
    assert alpha[0, 0] == 0 and alpha[-1, -1] == 0
    assert (alpha > 128).mean() > 0.08


def test_photo_without_red_has_no_seal() -> None:
    img = _seal_photo()
    gray = img.convert("L").convert("RGB")
    with pytest.raises(NoInkError):
        clean_seal_photo(_png(gray, "JPEG"))
    with pytest.raises(NoInkError):
        clean_seal_photo(_png(_seal_photo().crop((0, 0, 500, 800)), "JPEG"))


def test_max_px_is_validated(signature_photo: bytes) -> None:
    with pytest.raises(ImageError):
        clean_signature_image(signature_photo, max_px=5)
    small = clean_signature_image(signature_photo, max_px=100)
    assert max(Image.open(io.BytesIO(small)).size) <= 100
