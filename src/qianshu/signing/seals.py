"""Seal images (电子印章): round, oval and square seals rendered as transparent PNGs.

Every seal is drawn in ONE colour; anti-aliasing lives in the alpha channel only, so the PNG stays
small and pyHanko can stamp it cheaply (see SIGNING-NOTES). Drawing happens on a supersampled
greyscale mask that is box-reduced at the end, which gives clean edges for rotated glyphs.

Rendering one seal takes up to about 0.1 s; callers cache the bytes (this module keeps no state
besides an LRU cache of loaded fonts).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeAlias

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from qianshu.signing import fonts
from qianshu.signing.errors import ConfigurationError, ImageError, MissingGlyphError, SigningError

# numpy and fontTools (~0.2 s to import) are imported by the functions that draw, not when
# the web process starts.

DEFAULT_FONT_FACE = "Noto Serif CJK SC"
SEAL_RED: tuple[int, int, int] = (230, 0, 18)  # #E60012, the usual 印章红
MIN_SIZE_PX = 100
MAX_SIZE_PX = 1200
MAX_NAME_CHARS = 40
MAX_SEAL_NAME_CHARS = 16
MAX_PERSON_NAME_CHARS = 16
CODE_DIGITS = 13

_SS = 3  # supersampling factor of the drawing mask
_STAR_INNER_RATIO = math.sin(math.radians(18)) / math.sin(math.radians(54))

Color: TypeAlias = tuple[int, int, int]


# --- Specs ---


@dataclass(frozen=True)
class RoundSealSpec:
    """A round organisation seal (公章, 合同专用章, ...), 42 mm in real life.

    ``org_name`` runs clockwise along the upper arc, ``seal_name`` sits horizontally below the
    star, and the last 13 digits of ``code`` (印章编码) run along the lower arc. ``None`` sizes are
    chosen from the text lengths so that names of 2 to 40 characters fit.
    """

    org_name: str
    seal_name: str = ""
    code: str = ""
    size_px: int = 400
    border_px: int | None = None
    name_font_px: int | None = None
    seal_name_font_px: int | None = None
    code_font_px: int | None = None
    char_spacing_deg: float | None = None
    star: bool = True
    color: Color = SEAL_RED
    texture: float = 0.0
    font_path: str = fonts.SERIF_BOLD
    font_face: str | None = DEFAULT_FONT_FACE

    def __post_init__(self) -> None:
        _check_size("size_px", self.size_px)
        _check_elliptic(self, self.size_px)
        spacing = self.char_spacing_deg
        if spacing is not None and (
            isinstance(spacing, bool)
            or not isinstance(spacing, (int, float))
            or not 2 <= spacing <= 90
            or spacing * len(self.org_name.strip()) > 320
        ):
            raise ImageError(
                "char_spacing_deg must be None or 2 to 90 degrees, the name spanning at most 320",
                code="char_spacing",
            )


@dataclass(frozen=True)
class OvalSealSpec:
    """An oval seal (椭圆章: 财务专用章, 人事专用章, ...), 40 x 30 mm in real life.

    Same text layout as the round seal on an ellipse; the star is off by default.
    """

    org_name: str
    seal_name: str = ""
    code: str = ""
    width_px: int = 400
    height_px: int = 300
    border_px: int | None = None
    name_font_px: int | None = None
    seal_name_font_px: int | None = None
    code_font_px: int | None = None
    star: bool = False
    color: Color = SEAL_RED
    texture: float = 0.0
    font_path: str = fonts.SERIF_BOLD
    font_face: str | None = DEFAULT_FONT_FACE

    def __post_init__(self) -> None:
        _check_size("width_px", self.width_px)
        _check_size("height_px", self.height_px)
        if not 0.5 <= self.height_px / self.width_px <= 1.0:
            raise ImageError("height_px must be between half and all of width_px for an oval seal")
        _check_elliptic(self, self.height_px)


@dataclass(frozen=True)
class SquareSealSpec:
    """A square personal seal (法定代表人章), read top-to-bottom, right-to-left.

    ``suffix`` is appended to ``name`` to fill the grid; ``None`` picks the traditional one:
    a 2-character name gets 之印 (张三之印), a 3-character name gets 印 (张三丰印).
    """

    name: str
    suffix: str | None = None
    size_px: int = 300
    border_px: int | None = None
    color: Color = SEAL_RED
    texture: float = 0.0
    font_path: str = fonts.SERIF_BOLD
    font_face: str | None = DEFAULT_FONT_FACE

    def __post_init__(self) -> None:
        _check_text("name", self.name, MAX_PERSON_NAME_CHARS, required=True)
        if self.suffix is not None:
            _check_text("suffix", self.suffix, 2, required=False)
        if len(square_seal_text(self.name, self.suffix)) > MAX_PERSON_NAME_CHARS:
            raise ImageError(f"name and suffix must fit {MAX_PERSON_NAME_CHARS} cells")
        _check_size("size_px", self.size_px)
        _check_common(self.color, self.texture, self.font_path, self.font_face)
        _check_px("border_px", self.border_px, 1, self.size_px // 8)


SealSpec: TypeAlias = RoundSealSpec | OvalSealSpec | SquareSealSpec


def _check_elliptic(spec: RoundSealSpec | OvalSealSpec, small: int) -> None:
    _check_text("org_name", spec.org_name, MAX_NAME_CHARS, required=True)
    _check_text("seal_name", spec.seal_name, MAX_SEAL_NAME_CHARS, required=False)
    _check_code(spec.code)
    _check_common(spec.color, spec.texture, spec.font_path, spec.font_face)
    _check_px("border_px", spec.border_px, 1, small // 8)
    for field in ("name_font_px", "seal_name_font_px", "code_font_px"):
        _check_px(field, getattr(spec, field), 6, small // 3)


def _check_text(field: str, value: object, max_chars: int, *, required: bool) -> None:
    if not isinstance(value, str):
        raise ImageError(f"{field} must be a string")
    text = value.strip()
    if required and not text:
        raise ImageError(f"{field} must not be empty")
    if len(text) > max_chars:
        raise ImageError(
            f"{field} is too long: {len(text)} characters (at most {max_chars})",
            code="text_too_long",
        )
    if any(not ch.isprintable() for ch in text):
        raise ImageError(f"{field} contains control characters")


def _check_code(code: object) -> None:
    if not isinstance(code, str):
        raise ImageError("code must be a string of digits")
    text = code.strip()
    if text and not (text.isascii() and text.isdigit()):
        raise ImageError("code must contain only the digits 0-9")
    if len(text) > MAX_NAME_CHARS:
        raise ImageError(
            f"code is too long: {len(text)} digits (at most {MAX_NAME_CHARS})", code="text_too_long"
        )


def _check_size(field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ImageError(f"{field} must be an integer number of pixels")
    if not MIN_SIZE_PX <= value <= MAX_SIZE_PX:
        raise ImageError(f"{field} must be between {MIN_SIZE_PX} and {MAX_SIZE_PX} px, not {value}")


def _check_px(field: str, value: object, low: int, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ImageError(
            f"{field} must be None or an integer between {low} and {high} px",
            code="font_size" if "font_px" in field else None,
        )


def _check_common(color: object, texture: object, font_path: object, font_face: object) -> None:
    if (
        not isinstance(color, tuple)
        or len(color) != 3
        or any(isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= 255 for c in color)
    ):
        raise ImageError(f"color must be an (r, g, b) tuple of integers 0-255, not {color!r}")
    if isinstance(texture, bool) or not isinstance(texture, (int, float)) or not 0 <= texture <= 1:
        raise ImageError("texture must be a number between 0 and 1")
    if not isinstance(font_path, (str, Path)) or not str(font_path):
        raise ConfigurationError("font_path must be the path of a TTF/OTF/TTC font file")
    if font_face is not None and not isinstance(font_face, str):
        raise ConfigurationError("font_face must be a font family name or None")


# --- Fonts ---


@dataclass(frozen=True)
class _FontInfo:
    path: str
    index: int
    em_centre: float  # height of the ideographic em box centre above the baseline, in em
    codepoints: frozenset[int]


@lru_cache(maxsize=8)
def _font_info(path: str, face: str | None) -> _FontInfo:
    from fontTools.ttLib import TTCollection, TTFont

    if not Path(path).is_file():
        raise ConfigurationError(
            f"seal font not found: {path} (install fonts-noto-cjk or set font_path)"
        )
    try:
        if path.lower().endswith((".ttc", ".otc")):
            fonts = list(TTCollection(path, lazy=True).fonts)
        else:
            fonts = [TTFont(path, lazy=True)]
        families = [f["name"].getDebugName(1) for f in fonts]
        index = 0
        if face is not None and len(fonts) > 1:
            if face not in families:
                available = ", ".join(map(str, families))
                raise ConfigurationError(
                    f"font face {face!r} not found in {path}; available: {available}"
                )
            index = families.index(face)
        font = fonts[index]
        upm = font["head"].unitsPerEm
        os2 = font["OS/2"] if "OS/2" in font else None
        if os2 is not None and os2.sTypoAscender > 0:
            em_centre = (os2.sTypoAscender + os2.sTypoDescender) / 2 / upm
        else:
            em_centre = 0.38
        codepoints = frozenset((font.getBestCmap() or {}).keys())
    except SigningError:
        raise
    except Exception as exc:  # fontTools raises many types on a damaged file
        raise ConfigurationError(f"seal font {path} cannot be read: {exc}") from exc
    return _FontInfo(path=path, index=index, em_centre=em_centre, codepoints=codepoints)


def preload_font(
    font_path: str = fonts.SERIF_BOLD, font_face: str | None = DEFAULT_FONT_FACE
) -> None:
    """Read the seal font's character map now (a server does it at start-up: ~0.3 s for Noto
    Serif CJK, else paid by the first seal drawn in the process). Raises ConfigurationError for
    a missing or unreadable font."""
    _font_info(str(font_path), font_face)


@lru_cache(maxsize=64)
def _load_font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(path, size, index=index)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"seal font {path} cannot be loaded: {exc}") from exc


class _Pen:
    """Draws glyphs of one font on a supersampled mask."""

    def __init__(self, font_path: str, font_face: str | None, *texts: str) -> None:
        self.info = _font_info(str(font_path), font_face)
        for text in texts:
            for ch in text:
                if ch != " " and ord(ch) not in self.info.codepoints:
                    raise MissingGlyphError(
                        f"character {ch!r} is not in the seal font {font_path}", char=ch
                    )

    def advance(self, ch: str) -> float:
        """Advance width of ``ch`` in em."""
        font = _load_font(self.info.path, self.info.index, 200)
        return font.getlength(ch) / 200

    def glyph(self, ch: str, width: float, height: float, angle_cw: float = 0.0) -> Image.Image:
        """Mask of ``ch`` with its em box scaled to ``width`` x ``height``, rotated clockwise."""
        em = max(4, round(height))
        pad = em // 4
        tile = Image.new("L", (em + 2 * pad, em + 2 * pad), 0)
        font = _load_font(self.info.path, self.info.index, em)
        baseline = pad + em / 2 + self.info.em_centre * em
        ImageDraw.Draw(tile).text((tile.width / 2, baseline), ch, fill=255, font=font, anchor="ms")
        scale_x = width / em
        if abs(scale_x - 1) > 0.01 or em != round(height):
            size = (max(1, round(tile.width * scale_x)), max(1, round(tile.height * height / em)))
            tile = tile.resize(size, Image.Resampling.LANCZOS)
        if abs(angle_cw) > 0.01:
            tile = tile.rotate(-angle_cw, resample=Image.Resampling.BICUBIC, expand=True)
        return tile


def _stamp(canvas: Image.Image, glyph: Image.Image, cx: float, cy: float) -> None:
    """Max-composite ``glyph`` centred at (cx, cy)."""
    x0 = round(cx - glyph.width / 2)
    y0 = round(cy - glyph.height / 2)
    box = (x0, y0, x0 + glyph.width, y0 + glyph.height)
    canvas.paste(ImageChops.lighter(canvas.crop(box), glyph), box)


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, radius: float) -> None:
    points = []
    for k in range(10):
        r, t = radius * (1 if k % 2 == 0 else _STAR_INNER_RATIO), math.radians(-90 + 36 * k)
        points.append((cx + r * math.cos(t), cy + r * math.sin(t)))
    draw.polygon(points, fill=255)


# --- Text along an elliptical arc ---


def _arc_places(
    a: float, b: float, inset: float, offsets: list[float], *, bottom: bool
) -> list[tuple[float, float, float]]:
    """Centres and clockwise rotations for glyphs along an ellipse.

    The curve runs ``inset`` px inside the ellipse with semi-axes ``a`` x ``b`` (centred at the
    origin, y down). ``offsets`` are arc lengths from the top (or bottom) middle, positive to the
    right. Top glyphs face outwards; bottom glyphs face the centre so both read left to right.
    """
    import numpy as np

    origin = math.pi if bottom else 0.0
    t = np.linspace(origin - math.pi, origin + math.pi, 4097)
    ex, ey = a * np.sin(t), -b * np.cos(t)
    nx, ny = ex / a**2, ey / b**2
    norm = np.hypot(nx, ny)
    px, py = ex - inset * nx / norm, ey - inset * ny / norm
    s = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(px), np.diff(py)))])
    s -= s[2048]
    places = []
    for offset in offsets:
        ti = float(np.interp(-offset if bottom else offset, s, t))
        x, y = a * math.sin(ti), -b * math.cos(ti)
        gx, gy = x / a**2, y / b**2
        g = math.hypot(gx, gy)
        angle = math.degrees(math.atan2(gx, -gy)) + (180.0 if bottom else 0.0)
        places.append((x - inset * gx / g, y - inset * gy / g, angle))
    return places


def _arc_span_deg(n: int) -> float:
    """Angle the organisation name occupies on a round seal: wider for longer names."""
    import numpy as np

    return float(
        np.interp(n, [1, 2, 3, 4, 5, 6, 10, 20, 40], [40, 80, 120, 155, 190, 205, 220, 245, 250])
    )


def _fit_arc_text(
    a: float, b: float, gap: float, n: int, span_frac: float, font_px: int | None, max_font: float
) -> tuple[float, float, list[tuple[float, float, float]]]:
    """Font height, horizontal scale and glyph places for ``n`` characters over the upper arc."""
    sizes = [float(font_px)] if font_px else [max_font * 0.97**k for k in range(30)]
    for i, f in enumerate(sizes):
        inset = gap + f / 2
        r_centre = _ellipse_perimeter(a - inset, b - inset)
        step = r_centre * span_frac / n
        offsets = [step * (k + 0.5 - n / 2) for k in range(n)]
        places = _arc_places(a, b, inset, offsets, bottom=False)
        # The tightest spacing is at the inner edge of the glyphs, where the arc is shortest.
        inner = _arc_places(a, b, inset + 0.42 * f, offsets, bottom=False)
        room = min(
            (math.hypot(p[0] - q[0], p[1] - q[1]) for p, q in itertools.pairwise(inner)),
            default=step,
        )
        scale = min(1.0, 0.9 * room / f)
        if scale >= 0.55 or font_px or i == len(sizes) - 1:
            return f, max(scale, 0.3), places
    raise AssertionError("unreachable")  # pragma: no cover


def _ellipse_perimeter(a: float, b: float) -> float:
    h = ((a - b) / (a + b)) ** 2
    return math.pi * (a + b) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h)))


def _draw_code(
    canvas: Image.Image, pen: _Pen, code: str, ab: tuple[float, float], inset: float, f: float
) -> None:
    """The last 13 digits, condensed and tracked, along the lower arc ``inset`` px inside."""
    import numpy as np

    digits = code.strip()[-CODE_DIGITS:]
    advances = np.array([pen.advance(d) * f * 0.85 * 1.3 for d in digits])
    offsets = (np.cumsum(advances) - advances / 2 - advances.sum() / 2).tolist()
    places = _arc_places(*ab, inset + f / 2, offsets, bottom=True)
    for digit, (x, y, angle) in zip(digits, places, strict=True):
        _stamp(
            canvas,
            pen.glyph(digit, f * 0.85, f, angle),
            canvas.width / 2 + x,
            canvas.height / 2 + y,
        )


def _draw_line(
    canvas: Image.Image, pen: _Pen, text: str, cx: float, cy: float, f: float, scale: float
) -> None:
    """Horizontal text centred at (cx, cy), each character ``f * scale`` wide with some tracking."""
    cell = f * scale * 1.08
    for k, ch in enumerate(text):
        x = cx + (k + 0.5 - len(text) / 2) * cell
        _stamp(canvas, pen.glyph(ch, f * scale, f), x, cy)


def _fit_line(
    text: str, font_px: int | None, max_font: float, fits: Callable[[float, float], bool]
) -> tuple[float, float]:
    """Largest font height and horizontal scale for which ``fits(height, half_width)`` holds."""
    sizes = [float(font_px)] if font_px else [max_font * 0.96**k for k in range(25)]
    for f in sizes:
        for scale in (1.0, 0.92, 0.84, 0.76, 0.68):
            if fits(f, len(text) * f * scale * 1.08 / 2):
                return f, scale
    return sizes[-1], 0.68


# --- Round and oval seals ---


def _render_elliptic(
    spec: RoundSealSpec | OvalSealSpec, width: int, height: int, span_deg: float
) -> Image.Image:
    org, seal_name = spec.org_name.strip(), spec.seal_name.strip()
    pen = _Pen(spec.font_path, spec.font_face, org, seal_name, spec.code.strip())
    small = min(width, height) / 2
    margin = max(1.0, small * 0.012)
    border = spec.border_px or max(2, round(small * 2 / 28))
    # Everything below is in supersampled px.
    s = _SS
    cx, cy = width * s / 2, height * s / 2
    a_out, b_out = (width / 2 - margin) * s, (height / 2 - margin) * s
    a, b = a_out - border * s, b_out - border * s
    unit = b  # text sizes follow the short axis
    gap = unit * 0.05

    canvas = Image.new("L", (width * s, height * s), 0)
    draw = ImageDraw.Draw(canvas)
    draw.ellipse((cx - a_out, cy - b_out, cx + a_out, cy + b_out), outline=255, width=border * s)

    n = len(org)
    span_frac = span_deg / 360
    f_name, scale, places = _fit_arc_text(
        a, b, gap, n, span_frac, spec.name_font_px and spec.name_font_px * s, unit * 0.31
    )
    for ch, (x, y, angle) in zip(org, places, strict=True):
        if ch != " ":
            _stamp(canvas, pen.glyph(ch, f_name * scale, f_name, angle), cx + x, cy + y)
    name_inner = gap + f_name  # inset of the inner edge of the name ring

    code = spec.code.strip()
    f_code = (spec.code_font_px * s) if spec.code_font_px else unit * 0.12
    if code:
        _draw_code(canvas, pen, code, (a, b), gap * 0.8, f_code)
    bottom_inset = (gap * 0.8 + f_code + unit * 0.04) if code else gap + unit * 0.12

    # Centre block: star and/or seal name; ``top`` is the seal name's top edge relative to cy.
    is_round = isinstance(spec, RoundSealSpec)
    star_r = unit * (0.31 if is_round else 0.21)
    star_cy = cy - (unit * (0.02 if is_round else 0.2) if seal_name else 0.0)
    if spec.star:
        _star(draw, cx, star_cy, star_r)

    def top_of(f: float) -> float:
        if spec.star:  # just below the star's lower points
            return star_cy + star_r * math.cos(math.radians(36)) - cy + unit * 0.08
        return unit * 0.1 - f / 2

    if seal_name:
        # A corner is inside if it clears the code ring below and the name ring at the sides.
        lower_a, lower_b = a - bottom_inset, b - bottom_inset
        ring_a, ring_b = a - name_inner - gap * 0.5, b - name_inner - gap * 0.5

        def fits(f: float, half: float) -> bool:
            top, bottom = top_of(f), top_of(f) + f
            inside_low = (half / lower_a) ** 2 + (bottom / lower_b) ** 2 <= 1
            inside_ring = (half / ring_a) ** 2 + (bottom / ring_b) ** 2 <= 1
            top_ok = (half / ring_a) ** 2 + (top / ring_b) ** 2 <= 1
            return inside_low and top_ok and (inside_ring or _below_name(half, bottom, span_deg))

        f_seal, seal_scale = _fit_line(
            seal_name,
            spec.seal_name_font_px and spec.seal_name_font_px * s,
            unit * (0.23 if is_round else 0.27),
            fits,
        )
        _draw_line(canvas, pen, seal_name, cx, cy + top_of(f_seal) + f_seal / 2, f_seal, seal_scale)
    return canvas


def _below_name(half: float, bottom: float, span_deg: float) -> bool:
    """Whether a corner at (half, bottom) lies in the free sector below the end of the name."""
    angle_from_top = math.degrees(math.atan2(half, -bottom))
    return angle_from_top > span_deg / 2 + 8


def render_round_seal(spec: RoundSealSpec) -> bytes:
    """Render a round organisation seal as a transparent RGBA PNG of ``size_px`` x ``size_px``.

    Raises :class:`ImageError` for text the font cannot draw and :class:`ConfigurationError` if
    the font is missing.
    """
    n = len(spec.org_name.strip())
    span = spec.char_spacing_deg * n if spec.char_spacing_deg else _arc_span_deg(n)
    mask = _render_elliptic(spec, spec.size_px, spec.size_px, span)
    return _finish(mask, spec)


def render_oval_seal(spec: OvalSealSpec) -> bytes:
    """Render an oval seal as a transparent RGBA PNG of ``width_px`` x ``height_px``."""
    span = _arc_span_deg(len(spec.org_name.strip())) * 0.97
    mask = _render_elliptic(spec, spec.width_px, spec.height_px, span)
    return _finish(mask, spec)


# --- Square seals ---


def square_seal_text(name: str, suffix: str | None = None) -> str:
    """The characters of a personal seal: the name plus 之印 / 印 when that fills the grid."""
    name = name.strip()
    if suffix is None:
        suffix = {2: "之印", 3: "印", 5: "印", 7: "之印", 8: "印"}.get(len(name), "")
    return name + suffix.strip()


def square_seal_columns(name: str, suffix: str | None = None) -> list[str]:
    """Characters per column, rightmost column first (seals read top-to-bottom, right-to-left).

    When the characters do not fill the grid evenly, the right columns hold fewer, taller
    characters (the surname of a three-character seal stands alone on the right).
    """
    text = square_seal_text(name, suffix)
    n = len(text)
    cols = 1 if n == 1 else 2 if n <= 4 else 3 if n <= 9 else 4
    base, extra = divmod(n, cols)
    counts = [base + (1 if k >= cols - extra else 0) for k in range(cols)]
    ends = list(itertools.accumulate(counts))
    return [text[end - count : end] for count, end in zip(counts, ends, strict=True)]


def render_square_seal(spec: SquareSealSpec) -> bytes:
    """Render a square personal seal as a transparent RGBA PNG of ``size_px`` x ``size_px``."""
    text = square_seal_text(spec.name, spec.suffix)
    pen = _Pen(spec.font_path, spec.font_face, text)
    s, size = _SS, spec.size_px
    margin = max(1.0, size * 0.01) * s
    border = (spec.border_px or max(2, round(size / 15))) * s
    full = size * s
    canvas = Image.new("L", (full, full), 0)
    draw = ImageDraw.Draw(canvas)
    draw.rounded_rectangle(
        (margin, margin, full - margin - 1, full - margin - 1),
        radius=size * 0.03 * s,
        outline=255,
        width=border,
    )
    pad = margin + border + size * 0.045 * s
    inner = full - 2 * pad
    columns = square_seal_columns(spec.name, spec.suffix)
    col_w = inner / len(columns)
    for k, column in enumerate(columns):
        cx = full - pad - col_w * (k + 0.5)
        cell_h = inner / len(column)
        for j, ch in enumerate(column):
            cy = pad + cell_h * (j + 0.5)
            # Glyph ink covers ~92 % of the em box: scale the box slightly beyond the cell.
            glyph = pen.glyph(ch, col_w * 1.02, cell_h * 1.02)
            _stamp(canvas, glyph, cx, cy)
    return _finish(canvas, spec)


def render_seal(spec: SealSpec) -> bytes:
    """Render any seal spec (round, oval or square) as a transparent RGBA PNG."""
    if isinstance(spec, RoundSealSpec):
        return render_round_seal(spec)
    if isinstance(spec, OvalSealSpec):
        return render_oval_seal(spec)
    if isinstance(spec, SquareSealSpec):
        return render_square_seal(spec)
    raise ConfigurationError(f"unknown seal spec type: {type(spec).__name__}")


# --- Output ---


def _finish(canvas: Image.Image, spec: SealSpec) -> bytes:
    """Reduce the supersampled mask, add the optional ink texture and encode the PNG."""
    mask = canvas.reduce(_SS)
    if spec.texture > 0:
        mask = _apply_texture(mask, spec)
    image = Image.new("RGBA", mask.size, (*spec.color, 0))
    image.putalpha(mask)
    out = io.BytesIO()
    # zlib's default level, not ``optimize``: that searched ten times longer (~0.3 s of a
    # 0.4 s render, paid by every live preview) for files 4 % smaller.
    image.save(out, format="PNG")
    return out.getvalue()


def _apply_texture(mask: Image.Image, spec: SealSpec) -> Image.Image:
    """Uneven ink: soft blotches and a few pale specks, seeded by the spec (same spec, same PNG)."""
    import numpy as np

    seed = int.from_bytes(hashlib.sha256(repr(spec).encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    h, w = mask.height, mask.width
    noise = Image.fromarray((rng.random((h, w)) * 255).astype(np.uint8))
    blotches = np.asarray(noise.filter(ImageFilter.GaussianBlur(2.5)), dtype=np.float32)
    blotches = np.clip((blotches - blotches.mean()) / (blotches.std() + 1e-6) / 3 + 0.5, 0, 1)
    specks = rng.random((h, w)) < 0.004 * spec.texture
    alpha = np.asarray(mask, dtype=np.float32)
    alpha *= 1 - spec.texture * 0.75 * blotches
    alpha[specks] *= 0.3
    return Image.fromarray(np.clip(alpha, 0, 255).round().astype(np.uint8))
