"""Clean-up of photographed or scanned signatures and seal imprints into transparent PNGs.

* :func:`clean_signature_image` — a handwritten signature on paper (phone photo or scan):
  the paper background is estimated (so shadows and uneven light do not count as ink), dark
  ink is kept with anti-aliased alpha, specks are removed, the result is cropped to the ink.
* :func:`clean_seal_photo` — a physical seal's imprint: red ink is isolated from the paper,
  black print and blue ink, then cropped.

Both write the ink in one colour with the shape in the alpha channel (cheap to stamp, see
SIGNING-NOTES) and are deterministic. An image without ink raises :class:`NoInkError`.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from qianshu.signing.errors import ImageError, NoInkError

MAX_INPUT_PIXELS = 40_000_000  # a 40-megapixel photo; larger declared sizes are refused
MAX_INPUT_BYTES = 20 * 1024 * 1024
_WORK_PX = 1600  # long side the analysis runs at
SEAL_INK = (230, 0, 18)


def _decode(data: bytes) -> Image.Image:
    if not data:
        raise ImageError("the file is empty")
    if len(data) > MAX_INPUT_BYTES:
        raise ImageError(f"the image is larger than {MAX_INPUT_BYTES // (1024 * 1024)} MB")
    try:
        img: Image.Image = Image.open(io.BytesIO(data))
        width, height = img.size
        if width * height > MAX_INPUT_PIXELS:
            raise ImageError(f"the image is too large ({width} x {height} pixels)")
        if img.format not in ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "MPO", "GIF", "HEIF"):
            raise ImageError(f"unsupported image type {img.format}; use JPG or PNG")
        img = ImageOps.exif_transpose(img)
        img.load()
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError("the image is too large (decompression bomb)") from exc
    except UnidentifiedImageError as exc:
        raise ImageError("the file is not an image we can read (use JPG or PNG)") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"the image is damaged: {exc}") from exc
    if img.mode in ("RGBA", "LA", "P"):
        # Transparent areas are paper, not ink.
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    rgb = img.convert("RGB")
    scale = _WORK_PX / max(rgb.size)
    if scale < 1:
        rgb = rgb.resize(
            (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
            Image.Resampling.LANCZOS,
        )
    if min(rgb.size) < 16:
        raise ImageError("the image is too small")
    return rgb


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold of values in [0, 1]."""
    hist, edges = np.histogram(values, bins=256, range=(0.0, 1.0))
    total = hist.sum()
    if total == 0:
        return 0.5
    centers = (edges[:-1] + edges[1:]) / 2
    weight_bg = np.cumsum(hist)
    weight_fg = total - weight_bg
    sum_bg = np.cumsum(hist * centers)
    mean_bg = sum_bg / np.maximum(weight_bg, 1)
    mean_fg = (sum_bg[-1] - sum_bg) / np.maximum(weight_fg, 1)
    between = weight_bg * weight_fg * (mean_bg - mean_fg) ** 2
    return float(centers[int(np.argmax(between))])


def _crop_box(alpha: np.ndarray, threshold: float) -> tuple[int, int, int, int] | None:
    rows = np.flatnonzero((alpha > threshold).any(axis=1))
    cols = np.flatnonzero((alpha > threshold).any(axis=0))
    if rows.size == 0 or cols.size == 0:
        return None
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    margin = max(2, round(0.04 * max(bottom - top, right - left)))
    h, w = alpha.shape
    return (
        max(0, left - margin),
        max(0, top - margin),
        min(w, right + margin),
        min(h, bottom + margin),
    )


def _despeckle(alpha: np.ndarray) -> np.ndarray:
    """Remove isolated specks (dust, paper grain) while keeping strokes."""
    mask = Image.fromarray((alpha * 255).astype(np.uint8), "L")
    cleaned = np.asarray(mask.filter(ImageFilter.MedianFilter(3)), dtype=np.float32) / 255
    # The median filter also rounds stroke ends; keep the original alpha where strokes remain.
    near_ink = (
        np.asarray(
            Image.fromarray((cleaned * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(3)),
            dtype=np.float32,
        )
        / 255
    )
    return np.where(near_ink > 0.1, alpha, 0.0)


def _finish(
    alpha: np.ndarray, color: tuple[int, int, int], box: tuple[int, int, int, int], max_px: int
) -> bytes:
    a = Image.fromarray((np.clip(alpha, 0, 1) * 255).astype(np.uint8), "L").crop(box)
    out = Image.new("RGBA", a.size, (*color, 0))
    out.putalpha(a)
    scale = max_px / max(out.size)
    if scale < 1:
        out = out.resize(
            (max(1, round(out.width * scale)), max(1, round(out.height * scale))),
            Image.Resampling.LANCZOS,
        )
        # Resampling premultiplies nothing here (one colour), but keep RGB exact.
        solid = Image.new("RGBA", out.size, (*color, 0))
        solid.putalpha(out.getchannel("A"))
        out = solid
    buffer = io.BytesIO()
    out.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _check_max_px(max_px: int) -> None:
    if not 32 <= max_px <= 2000:
        raise ImageError("max_px must be between 32 and 2000")


def clean_signature_image(data: bytes, *, max_px: int = 600) -> bytes:
    """A photo or scan of a handwritten signature → cropped transparent PNG of the ink."""
    _check_max_px(max_px)
    rgb = _decode(data)
    gray = rgb.convert("L")
    # Paper brightness: a dilation (max filter) wipes out thin dark strokes, a blur smooths the
    # result into a lighting map. Dividing by it removes shadows and gradients.
    size = max(5, (max(gray.size) // 60) | 1)
    background = gray.filter(ImageFilter.MaxFilter(min(size, 31))).filter(
        ImageFilter.GaussianBlur(size)
    )
    g = np.asarray(gray, dtype=np.float32)
    bg = np.maximum(np.asarray(background, dtype=np.float32), 1.0)
    darkness = np.clip(1.0 - g / bg, 0.0, 1.0)
    if float(np.percentile(darkness, 99.9)) < 0.2:
        raise NoInkError("no handwriting found in the image")
    threshold = max(_otsu(darkness), 0.12)
    lo, hi = threshold * 0.6, min(1.0, threshold * 1.6)
    alpha = _despeckle(np.clip((darkness - lo) / max(hi - lo, 1e-3), 0.0, 1.0))
    ink = alpha > 0.5
    fraction = float(ink.mean())
    if fraction < 0.0005:
        raise NoInkError("no handwriting found in the image")
    if fraction > 0.5:
        raise ImageError("the image has no clear handwriting on light paper")
    box = _crop_box(alpha, 0.25)
    if box is None:
        raise NoInkError("no handwriting found in the image")
    # The ink's own colour (black, blue), darkened a little: one colour for the whole image.
    pixels = np.asarray(rgb, dtype=np.float32)[ink]
    colour = np.median(pixels, axis=0) * 0.8
    return _finish(alpha, (int(colour[0]), int(colour[1]), int(colour[2])), box, max_px)


def clean_seal_photo(data: bytes, *, max_px: int = 400) -> bytes:
    """A photo of a seal imprint on paper → cropped transparent PNG in seal red."""
    _check_max_px(max_px)
    rgb = np.asarray(_decode(data), dtype=np.float32) / 255
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # Redness: how much red exceeds the other channels. Paper and black print are ~0, blue ink
    # is negative, seal ink (even faded pink) is clearly positive.
    redness = r - np.maximum(g, b)
    alpha = np.clip((redness - 0.12) / 0.22, 0.0, 1.0)
    alpha = _despeckle(alpha.astype(np.float32))
    if float((alpha > 0.5).mean()) < 0.002:
        raise NoInkError("no red seal ink found in the image")
    box = _crop_box(alpha, 0.3)
    if box is None:
        raise NoInkError("no red seal ink found in the image")
    return _finish(alpha, SEAL_INK, box, max_px)
