"""Synthetic pictures for the handwritten-signature tests: canvas output, scans, non-pictures."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def open_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data), formats=["PNG"])
    image.load()
    return image


def _scrawl(
    draw: ImageDraw.ImageDraw,
    origin: tuple[int, int],
    scale: float,
    fill: tuple[int, ...] | int,
    variant: int = 0,
) -> None:
    """A signature-like scrawl: three looping strokes, an underline and a dot."""
    ox, oy = origin
    t = np.linspace(0, 1, 160)
    for k, x0 in enumerate((0, 170, 330)):
        xs = ox + scale * (x0 + 140 * t + 25 * np.sin(t * math.tau * 2 + k + variant))
        ys = oy + scale * (60 + 45 * np.sin(t * math.tau * (1.4 + 0.25 * k)) * np.cos(t * math.pi))
        points = list(zip(xs.tolist(), ys.tolist(), strict=True))
        draw.line(points, fill=fill, width=max(2, round(6 * scale)), joint="curve")
    draw.line(
        [
            (ox, oy + scale * 140),
            (ox + scale * 250, oy + scale * 125),
            (ox + scale * 470, oy + scale * 135),
        ],
        fill=fill,
        width=max(2, round(5 * scale)),
    )
    dot = scale * 12
    draw.ellipse(
        (ox + scale * 490, oy + scale * 50, ox + scale * 490 + dot, oy + scale * 50 + dot),
        fill=fill,
    )


def drawn_png(
    size: tuple[int, int] = (900, 400), *, variant: int = 0, white: bool = False
) -> bytes:
    """What a browser canvas gives: black strokes on transparent (or white) pixels."""
    background = (255, 255, 255, 255) if white else (0, 0, 0, 0)
    image = Image.new("RGBA", size, background)
    _scrawl(ImageDraw.Draw(image), (150, 90), 1.0, (0, 0, 0, 255), variant)
    return encode(image)


def blank_png(size: tuple[int, int] = (900, 400)) -> bytes:
    return encode(Image.new("RGBA", size, (0, 0, 0, 0)))


def noise_png(size: tuple[int, int]) -> bytes:
    """Incompressible RGBA noise: a PNG far bigger in bytes than its pixel count suggests."""
    rng = np.random.default_rng(7)
    return encode(Image.fromarray(rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)))


def scan_jpeg(width: int = 1400, height: int = 900) -> bytes:
    """A photographed signature: blue-black pen on off-white paper, light falling off sideways."""
    rng = np.random.default_rng(3)
    shade = np.linspace(1.0, 0.7, width)[None, :] * np.linspace(1.0, 0.9, height)[:, None]
    paper = 236 * shade[..., None] * np.array([1.0, 0.99, 0.94])
    paper = paper + rng.normal(0, 3, (height, width, 3))
    image = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8), "RGB")
    _scrawl(ImageDraw.Draw(image), (300, 280), 1.5, (28, 30, 62))
    return encode(image, "JPEG", quality=88)


def white_page_jpeg() -> bytes:
    return encode(Image.new("RGB", (1200, 900), (250, 250, 248)), "JPEG")


def windows_exe() -> bytes:
    """The start of a Windows executable (what a renamed ``.exe`` looks like inside)."""
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48 + b"PE\x00\x00" * 64
