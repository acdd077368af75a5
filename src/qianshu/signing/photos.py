"""Clean-up of photographed or scanned handwritten signatures and physical seals.

Both functions take the bytes of an uploaded picture and return a tight, transparent RGBA PNG in
ONE colour with the ink strength in the alpha channel (cheap to stamp into PDFs, see
SIGNING-NOTES). Paper brightness is estimated locally, so lighting gradients and soft shadows do
not turn into ink. Everything is deterministic: the same input gives the same bytes.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from qianshu.signing.errors import ImageError, NoInkError, SigningError
from qianshu.signing.seals import SEAL_RED

MAX_INPUT_BYTES = 30 * 1024 * 1024
MAX_INPUT_PIXELS = 50_000_000  # a 48 MP phone photo still passes; decompression bombs do not
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")  # JPEG includes MPO
SEAL_INK = SEAL_RED  # the one colour of cleaned seal photos

_WORK_PIXELS = 2_500_000  # analysis resolution cap (about 1800 x 1350)
_MIN_INK_CONTRAST = 0.2  # ink must be at least this much darker than the paper
_MIN_RED = 0.15  # red minus max(green, blue), paper-normalised
_MAX_INK_FRACTION = 0.45  # more "ink" than this is a dark picture or noise, not writing

Array = np.ndarray


def clean_signature_image(
    data: bytes, *, max_px: int = 600, ink_color: tuple[int, int, int] | None = None
) -> bytes:
    """Turn a photo or scan of a handwritten signature into a transparent PNG.

    The paper becomes transparent, dark ink stays with soft anti-aliased edges, specks are
    dropped and the result is cropped to the ink with a small margin and scaled down to at most
    ``max_px`` on the long side. The ink is drawn in ``ink_color``, by default the measured ink
    hue darkened to a near-black (blue ballpoint stays dark blue).

    Raises :class:`ImageError` for anything that is not a usable picture and
    :class:`NoInkError` when no handwriting is found.
    """
    _check_max_px(max_px)
    if ink_color is not None:
        _check_color(ink_color)
    rgb = _decode(data)
    luma = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    paper = _background(luma)
    if float(np.median(paper)) < 0.25:
        raise NoInkError("no handwriting found: the picture has no light paper background")
    darkness = np.clip(1 - luma / np.maximum(paper, 0.05), 0, 1)
    threshold = max(_otsu(darkness), _MIN_INK_CONTRAST)
    alpha = _ink_alpha(darkness, threshold, what="handwriting")

    color = ink_color if ink_color is not None else _measured_ink(rgb, paper, alpha)
    return _encode(alpha, color, max_px)


def clean_seal_photo(
    data: bytes, *, max_px: int = 400, color: tuple[int, int, int] = SEAL_INK
) -> bytes:
    """Turn a photo or scan of a red seal impression into a transparent single-colour PNG.

    Only red ink is kept (black print and blue ink are dropped); the alpha channel follows the
    ink strength, and the image is cropped to the seal: the largest red mark plus the red marks
    close to it, so a stray red tick elsewhere on the page is left out.

    Raises :class:`ImageError` for anything that is not a usable picture and
    :class:`NoInkError` when no red seal ink is found.
    """
    _check_max_px(max_px)
    _check_color(color)
    rgb = _decode(data)
    paper = np.stack([_background(rgb[..., c]) for c in range(3)], axis=-1)
    if float(np.median(paper.mean(axis=-1))) < 0.25:
        raise NoInkError("no seal found: the picture has no light paper background")
    norm = np.clip(rgb / np.maximum(paper, 0.05), 0, 1)
    # Red ink keeps the red channel and absorbs green and blue; black absorbs all three.
    redness = norm[..., 0] - np.maximum(norm[..., 1], norm[..., 2])
    positive = redness[redness > 0.05]
    threshold = max(_otsu(positive) if positive.size > 64 else 1.0, _MIN_RED)
    # Seal ink is often faint and its serif strokes thin: start the alpha ramp lower.
    alpha = _ink_alpha(np.clip(redness, 0, 1), threshold, what="seal", low_ratio=0.4, cluster=True)
    # Black print over the seal leaves thin gaps in its strokes; close gaps that are print.
    printed = norm.max(axis=-1) < 0.55
    closed = _close(alpha)
    alpha = np.where(printed & (closed > alpha), closed, alpha)
    return _encode(alpha, color, max_px)


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


def _decode(data: bytes) -> Array:
    """Decode an upload to float RGB in 0..1 at analysis resolution, EXIF orientation applied."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError("image data must be bytes")
    if len(data) == 0:
        raise ImageError("the file is empty")
    if len(data) > MAX_INPUT_BYTES:
        raise ImageError(f"the file is too large: {len(data)} bytes (at most {MAX_INPUT_BYTES})")
    try:
        image: Image.Image = Image.open(io.BytesIO(bytes(data)), formats=ACCEPTED_FORMATS)
        width, height = image.size
        if width * height > MAX_INPUT_PIXELS:
            raise ImageError(
                f"the image is too large: {width} x {height} pixels "
                f"(at most {MAX_INPUT_PIXELS // 1_000_000} megapixels)"
            )
        if width < 8 or height < 8:
            raise ImageError(
                f"the image is too small: {width} x {height} pixels", code="image_too_small"
            )
        scale = min(1.0, math.sqrt(_WORK_PIXELS / (width * height)))
        if image.format in ("JPEG", "MPO") and scale < 1:
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: faster and far less memory.
            image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
        image.load()
        image = ImageOps.exif_transpose(image) or image
        image = _to_rgb(image)
        w, h = image.size
        scale = min(1.0, math.sqrt(_WORK_PIXELS / (w * h)))
        if scale < 1:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            image = image.resize(size, Image.Resampling.BOX)
        return np.asarray(image, dtype=np.float32) / 255.0
    except SigningError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(f"the image is too large to decode safely: {exc}") from exc
    except Exception as exc:  # Pillow raises many types on hostile or damaged files
        raise ImageError(f"the file is not a readable image ({type(exc).__name__})") from exc


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any mode to RGB; transparent areas become white paper."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float32)
        peak = float(values.max()) or 1.0
        image = Image.fromarray((values / peak * 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA", "P", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        return white.convert("RGB")
    return image.convert("RGB")


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------


def _background(channel: Array) -> Array:
    """Local paper brightness: a bright percentile per block, spread and smoothed.

    Ink covers a small part of any block, so the 90th percentile of a block is paper even next to
    strokes; the max filter fills blocks that ink covers entirely and the blur removes block
    edges, while still following gradients and shadows.
    """
    h, w = channel.shape
    cell = max(8, round(max(h, w) / 40))
    bh, bw = math.ceil(h / cell), math.ceil(w / cell)
    padded = np.pad(channel, ((0, bh * cell - h), (0, bw * cell - w)), mode="edge")
    blocks = padded.reshape(bh, cell, bw, cell).transpose(0, 2, 1, 3).reshape(bh, bw, -1)
    grid = np.percentile(blocks, 90, axis=-1).astype(np.float32)
    grid = _smooth(_max3(grid))
    full = Image.fromarray(grid, mode="F").resize((bw * cell, bh * cell), Image.Resampling.BILINEAR)
    return np.asarray(full, dtype=np.float32)[:h, :w]


def _max3(grid: Array) -> Array:
    """3 x 3 maximum filter."""
    padded = np.pad(grid, 1, mode="edge")
    h, w = grid.shape
    return np.max([padded[y : y + h, x : x + w] for y in range(3) for x in range(3)], axis=0)


def _smooth(grid: Array) -> Array:
    """Binomial [1 4 6 4 1] blur along both axes (a small Gaussian)."""
    kernel = np.array([1, 4, 6, 4, 1], dtype=np.float32) / 16
    for axis in (0, 1):
        padded = np.pad(grid, [(2, 2) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        n = grid.shape[axis]
        grid = sum(k * np.take(padded, range(i, i + n), axis=axis) for i, k in enumerate(kernel))
    return grid.astype(np.float32)


def _close(alpha: Array, size: int = 5) -> Array:
    """Morphological closing (max then min filter) of an alpha map in 0..1."""
    mask = Image.fromarray((alpha * 255).round().astype(np.uint8))
    mask = mask.filter(ImageFilter.MaxFilter(size)).filter(ImageFilter.MinFilter(size))
    return np.asarray(mask, dtype=np.float32) / 255


def _otsu(values: Array) -> float:
    """Otsu's threshold of values in 0..1."""
    hist, edges = np.histogram(values, bins=256, range=(0.0, 1.0))
    hist = hist.astype(np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    weight0 = np.cumsum(hist)
    weight1 = weight0[-1] - weight0
    mean0 = np.cumsum(hist * centres) / np.maximum(weight0, 1)
    mean1 = ((hist * centres).sum() - np.cumsum(hist * centres)) / np.maximum(weight1, 1)
    between = weight0 * weight1 * (mean0 - mean1) ** 2
    return float(centres[int(np.argmax(between))])


def _ink_alpha(
    strength: Array, threshold: float, *, what: str, low_ratio: float = 0.6, cluster: bool = False
) -> Array:
    """Soft alpha (0..1) from an ink strength map, without specks (and far-away marks).

    Alpha ramps from ``low_ratio * threshold`` to well above the threshold; a component is kept
    if it is not a speck and reaches the threshold somewhere.
    """
    low = threshold * low_ratio
    candidate = strength > low
    core = strength >= threshold
    if not core.any():
        raise NoInkError(f"no {what} found in the image")
    if candidate.mean() > _MAX_INK_FRACTION:
        raise NoInkError(f"no {what} found: the picture is not ink on light paper")
    labels, sizes, peaks, boxes = _components(candidate, strength)
    h, w = strength.shape
    min_area = max(8, round((max(h, w) / 700) ** 2 * 6))
    keep = (sizes >= min_area) & (peaks >= threshold)
    if not keep.any():
        raise NoInkError(f"no {what} found in the image (only specks)")
    if cluster:
        keep &= _near_largest(boxes, np.where(keep, sizes, 0))
    solid = float(np.percentile(strength[core], 90))
    high = max(threshold + 0.5 * (solid - threshold), threshold + 0.05)
    alpha = np.clip((strength - low) / (high - low), 0, 1)
    kept_pixels = np.zeros(h * w, dtype=bool)
    flat = np.flatnonzero(candidate)
    kept_pixels[flat] = keep[labels]
    return np.where(kept_pixels.reshape(h, w), alpha, 0).astype(np.float32)


def _components(mask: Array, strength: Array) -> tuple[Array, Array, Array, Array]:
    """8-connected components of ``mask``.

    Returns, for the mask pixels in row-major order, their component root; and per root its
    size, peak strength and bounding box (y0, x0, y1, x1). Union-find with min-hooking and
    pointer jumping, vectorised: a few dozen numpy passes even for large masks.
    """
    h, w = mask.shape
    index = np.full(h * w, -1, dtype=np.int64)
    flat = np.flatnonzero(mask)
    n = flat.size
    index[flat] = np.arange(n)
    grid = index.reshape(h, w)
    heads, tails = [], []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        x0, x1 = max(0, -dx), w - max(0, dx)
        a = grid[0 : h - dy, x0:x1]
        b = grid[dy:h, x0 + dx : x1 + dx]
        linked = (a >= 0) & (b >= 0)
        heads.append(a[linked])
        tails.append(b[linked])
    ea, eb = np.concatenate(heads), np.concatenate(tails)
    parent = np.arange(n)
    while ea.size:
        pa, pb = parent[ea], parent[eb]
        open_ = pa != pb
        if not open_.any():
            break
        ea, eb, pa, pb = ea[open_], eb[open_], pa[open_], pb[open_]
        np.minimum.at(parent, np.maximum(pa, pb), np.minimum(pa, pb))
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    ys, xs = np.divmod(flat, w)
    sizes = np.bincount(parent, minlength=n)
    peaks = np.zeros(n, dtype=np.float32)
    np.maximum.at(peaks, parent, strength.ravel()[flat])
    boxes = np.empty((n, 4), dtype=np.int64)
    boxes[:, :2] = np.iinfo(np.int64).max
    boxes[:, 2:] = -1
    np.minimum.at(boxes[:, 0], parent, ys)
    np.minimum.at(boxes[:, 1], parent, xs)
    np.maximum.at(boxes[:, 2], parent, ys)
    np.maximum.at(boxes[:, 3], parent, xs)
    return parent, sizes, peaks, boxes


def _near_largest(boxes: Array, sizes: Array) -> Array:
    """Components whose boxes touch the growing box around the largest one (a seal's parts)."""
    seed = int(np.argmax(sizes))
    y0, x0, y1, x1 = (int(v) for v in boxes[seed])
    candidates = sizes > 0
    chosen = np.zeros(sizes.size, dtype=bool)
    chosen[seed] = True
    while True:
        reach = 0.15 * max(y1 - y0, x1 - x0) + 2
        hits = (
            candidates
            & ~chosen
            & (boxes[:, 0] <= y1 + reach)
            & (boxes[:, 2] >= y0 - reach)
            & (boxes[:, 1] <= x1 + reach)
            & (boxes[:, 3] >= x0 - reach)
        )
        if not hits.any():
            return chosen
        chosen |= hits
        y0 = min(y0, int(boxes[hits, 0].min()))
        x0 = min(x0, int(boxes[hits, 1].min()))
        y1 = max(y1, int(boxes[hits, 2].max()))
        x1 = max(x1, int(boxes[hits, 3].max()))


def _measured_ink(rgb: Array, paper: Array, alpha: Array) -> tuple[int, int, int]:
    """The typical colour of solid ink, white-balanced against the paper and darkened."""
    solid = alpha >= 0.99
    if not solid.any():
        solid = alpha > 0
    balanced = rgb[solid] / np.maximum(paper[solid], 0.05)[:, None]
    paper_rgb = np.median(rgb[alpha == 0], axis=0) if (alpha == 0).any() else np.ones(3)
    tint = paper_rgb / max(float(paper_rgb.mean()), 0.05)
    ink = np.clip(np.median(balanced, axis=0) / np.maximum(tint, 0.05), 0, 1) * 255
    luma = float(ink @ np.array([0.299, 0.587, 0.114]))
    if luma > 35:  # pencil, faded or blue ink: keep the hue, make it read as dark ink
        ink = ink * (35 / luma)
    red, green, blue = (int(v) for v in np.rint(ink))
    return (red, green, blue)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def _encode(alpha: Array, color: tuple[int, int, int], max_px: int) -> bytes:
    """Crop to the ink with a small margin, scale down and write a single-colour RGBA PNG."""
    rows = np.flatnonzero(alpha.max(axis=1) > 0)
    cols = np.flatnonzero(alpha.max(axis=0) > 0)
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    margin = round(0.03 * max(y1 - y0, x1 - x0)) + 2
    h, w = alpha.shape
    y0, x0 = max(0, y0 - margin), max(0, x0 - margin)
    y1, x1 = min(h, y1 + margin), min(w, x1 + margin)
    mask = Image.fromarray((alpha[y0:y1, x0:x1] * 255).round().astype(np.uint8))
    long_side = max(mask.size)
    if long_side > max_px:
        factor = max_px / long_side
        size = (max(1, round(mask.width * factor)), max(1, round(mask.height * factor)))
        mask = mask.resize(size, Image.Resampling.LANCZOS)
    image = Image.new("RGBA", mask.size, (*color, 0))
    image.putalpha(mask)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _check_max_px(max_px: object) -> None:
    if isinstance(max_px, bool) or not isinstance(max_px, int) or not 16 <= max_px <= 4000:
        raise ImageError(f"max_px must be an integer between 16 and 4000, not {max_px!r}")


def _check_color(color: object) -> None:
    if (
        not isinstance(color, tuple)
        or len(color) != 3
        or any(isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= 255 for c in color)
    ):
        raise ImageError(f"colour must be an (r, g, b) tuple of integers 0-255: {color!r}")
