"""Seal images (电子印章): geometry, colour, determinism, validation and artefacts to look at."""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from qianshu.signing import fonts
from qianshu.signing.errors import ConfigurationError, ImageError
from qianshu.signing.seals import (
    SEAL_RED,
    OvalSealSpec,
    RoundSealSpec,
    SquareSealSpec,
    render_oval_seal,
    render_round_seal,
    render_seal,
    render_square_seal,
    square_seal_columns,
    square_seal_text,
)

NAMES = {
    2: "千书",
    10: "北京千书科技有限公司",
    27: "深圳市南山区前海千书电子签名与印章信息技术服务有限公司",
    30: "广东省深圳市南山区前海千书电子签名与印章信息技术服务有限公司",
}
LABEL_FONT = fonts.SANS_REGULAR


def _image(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.mode == "RGBA"
    return img


def _alpha(png: bytes) -> np.ndarray:
    return np.asarray(_image(png).getchannel("A"), dtype=np.int32)


def _colours(png: bytes) -> set[tuple[int, int, int]]:
    rgba = np.asarray(_image(png))
    return {(int(r), int(g), int(b)) for r, g, b, _ in rgba[rgba[..., 3] > 0]}


def _polar(alpha: np.ndarray, threshold: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Radius, clockwise angle from the top (degrees) and alpha of the inked pixels."""
    h, w = alpha.shape
    ys, xs = np.nonzero(alpha > threshold)
    dx, dy = xs + 0.5 - w / 2, ys + 0.5 - h / 2
    return np.hypot(dx, dy), np.degrees(np.arctan2(dx, -dy)), alpha[ys, xs]


def _rings(size: int = 400) -> tuple[float, float]:
    """Outer and inner radius of the default round border (1.2 % margin, border 1/14 radius)."""
    outer = size / 2 - max(1.0, size / 2 * 0.012)
    return outer, outer - round(size / 28)


def _clusters(angles: np.ndarray, gap: float = 0.8) -> list[np.ndarray]:
    """Indexes of pixels grouped into glyphs by gaps in their angles along the arc."""
    order = np.argsort(angles)
    cuts = np.flatnonzero(np.diff(angles[order]) > gap) + 1
    return np.split(order, cuts)


@pytest.fixture(scope="module")
def round_seals() -> dict[int, bytes]:
    return {
        n: render_round_seal(RoundSealSpec(name, seal_name="合同专用章", code="1101080012345"))
        for n, name in NAMES.items()
    }


# --------------------------------------------------------------------------------------------
# Round seals
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 10, 27, 30])
def test_round_seal_stays_inside_its_border(round_seals: dict[int, bytes], n: int) -> None:
    assert len(NAMES[n]) == n
    png = round_seals[n]
    assert _image(png).size == (400, 400)
    assert len(png) < 60_000
    assert _colours(png) == {SEAL_RED}  # one colour, shape in the alpha channel
    alpha = _alpha(png)
    outer, inner = _rings()
    radius, angle, _ = _polar(alpha)
    assert radius.max() <= outer + 1  # nothing outside the circle (corners are transparent)
    # The border is closed all round.
    border = (radius > inner + 2) & (radius < outer - 2)
    assert len(np.unique(np.round(angle[border]))) >= 359
    # A clear gap between the border and the text, and between the text and the star.
    radius, angle, _ = _polar(alpha, threshold=16)
    assert not ((radius > inner - 6) & (radius < inner - 2)).any()
    upper = np.abs(angle) < 60
    assert not ((radius > 66) & (radius < 112) & upper).any()
    assert ((radius < 60) & upper).any()  # the star
    assert ((radius > 112) & (radius < inner - 6) & upper).sum() > 1500  # the name


@pytest.mark.parametrize(("n", "low", "high"), [(2, 60, 110), (10, 200, 235), (30, 235, 262)])
def test_name_spreads_over_the_upper_arc(n: int, low: float, high: float) -> None:
    """The name is centred on the top and takes more of the arc the longer it is."""
    png = render_round_seal(RoundSealSpec("国" * n, star=False))
    radius, angle, weight = _polar(_alpha(png), threshold=64)
    _, inner = _rings()
    name = radius < inner - 2
    assert low < angle[name].max() - angle[name].min() < high
    assert abs(np.average(angle[name], weights=weight[name])) < 2  # symmetric about the top
    glyphs = _clusters(angle[name])
    assert len(glyphs) == n  # evenly spaced, no two characters touching
    centres = np.array([angle[name][g].mean() for g in glyphs])
    steps = np.diff(centres)
    assert steps.max() - steps.min() < 0.1 * steps.mean()


def test_characters_follow_the_arc_and_read_clockwise() -> None:
    """一 is a horizontal bar: on the arc each one lies along the circle (rotated with it)."""
    png = render_round_seal(RoundSealSpec("二" + "一" * 9, star=False, code="1" * 13))
    alpha = _alpha(png)
    _, inner = _rings()
    h, w = alpha.shape
    ys, xs = np.nonzero(alpha > 64)
    dx, dy = xs + 0.5 - w / 2, ys + 0.5 - h / 2
    radius, angle = np.hypot(dx, dy), np.degrees(np.arctan2(dx, -dy))
    text = radius < inner - 2
    upper, lower = text & (np.abs(angle) < 135), text & (np.abs(angle) > 135)
    glyphs = _clusters(angle[upper])
    assert len(glyphs) == 10
    for k, glyph in enumerate(glyphs):
        gx, gy = dx[upper][glyph], dy[upper][glyph]
        _, vectors = np.linalg.eigh(np.cov(gx, gy))
        major = vectors[:, -1]  # direction of the stroke
        theta = math.radians(float(angle[upper][glyph].mean()))
        radial = (math.sin(theta), -math.cos(theta))
        if k > 0:  # the bars of 一 are tangential
            assert abs(major @ radial) < 0.25
    # Reading order: 二 (two bars, more ink) is the first character, on the left.
    inks = [len(g) for g in glyphs]
    assert inks[0] == max(inks) and inks[0] > 1.4 * np.median(inks)
    # The code digits 1 on the lower arc stand upright: their strokes point at the centre.
    digits = _clusters(angle[lower] % 360)
    assert len(digits) == 13
    for digit in digits:
        gx, gy = dx[lower][digit], dy[lower][digit]
        _, vectors = np.linalg.eigh(np.cov(gx, gy))
        theta = math.radians(float((angle[lower][digit] % 360).mean()))
        assert abs(vectors[:, -1] @ (math.sin(theta), -math.cos(theta))) > 0.85


def test_code_uses_the_last_13_digits_and_parameters_apply() -> None:
    base = RoundSealSpec("北京千书科技有限公司", seal_name="公章", code="1101080012345")
    longer = RoundSealSpec("北京千书科技有限公司", seal_name="公章", code="99" + base.code)
    assert render_seal(base) == render_seal(longer)
    no_code = _alpha(render_seal(RoundSealSpec("北京千书科技有限公司", seal_name="公章")))
    with_code = _alpha(render_seal(base))
    assert with_code[330:395].sum() > no_code[330:395].sum() + 100_000  # digits at the bottom
    custom = render_seal(
        RoundSealSpec("北京千书科技有限公司", size_px=300, color=(180, 0, 0), border_px=14)
    )
    assert _image(custom).size == (300, 300) and _colours(custom) == {(180, 0, 0)}
    thin = _alpha(render_seal(RoundSealSpec("北京千书科技有限公司", size_px=300, border_px=3)))
    assert (_alpha(custom)[150, :40] > 128).sum() > (thin[150, :40] > 128).sum() + 8
    big = _alpha(render_seal(RoundSealSpec("北京千书科技有限公司", name_font_px=70, star=False)))
    small = _alpha(render_seal(RoundSealSpec("北京千书科技有限公司", name_font_px=40, star=False)))
    # A taller name font reaches further towards the centre.
    assert _polar(big, 64)[0].min() < _polar(small, 64)[0].min() - 20


@pytest.mark.parametrize("size", [100, 1200])
def test_extreme_sizes_render_inside_the_circle(size: int) -> None:
    png = render_round_seal(
        RoundSealSpec(NAMES[30], seal_name="合同专用章", code="1", size_px=size)
    )
    assert _image(png).size == (size, size)
    radius, _, _ = _polar(_alpha(png))
    assert radius.max() <= _rings(size)[0] + 1


def test_rendering_is_deterministic_and_quick() -> None:
    spec = RoundSealSpec(NAMES[30], seal_name="合同专用章", code="1101080012345")
    start = time.perf_counter()
    first = render_seal(spec)
    assert time.perf_counter() - start < 3  # ~0.2 s; generous for a shared CI machine
    assert render_seal(spec) == first
    assert render_seal(RoundSealSpec(NAMES[30], seal_name="合同专用章")) != first


def test_ink_texture_is_seeded_by_the_spec() -> None:
    textured = RoundSealSpec(NAMES[10], seal_name="公章", texture=0.6)
    png = render_seal(textured)
    assert render_seal(textured) == png  # same spec, same bytes
    assert _colours(png) == {SEAL_RED}
    plain = _alpha(render_seal(RoundSealSpec(NAMES[10], seal_name="公章")))
    rough = _alpha(png)
    assert rough.sum() < plain.sum() and (rough > 0).sum() <= (plain > 0).sum()
    other = render_seal(RoundSealSpec(NAMES[10], seal_name="合同专用章", texture=0.6))
    assert other != png


# --------------------------------------------------------------------------------------------
# Oval and square seals
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 10, 30])
def test_oval_seal_stays_inside_its_ellipse(n: int) -> None:
    png = render_oval_seal(OvalSealSpec(NAMES[n], seal_name="财务专用章", code="1101080012345"))
    assert _image(png).size == (400, 300) and _colours(png) == {SEAL_RED}
    alpha = _alpha(png)
    ys, xs = np.nonzero(alpha)
    a, b = 200 - 1.8, 150 - 1.8
    assert (((xs + 0.5 - 200) / a) ** 2 + ((ys + 0.5 - 150) / b) ** 2).max() <= 1.02
    # The ellipse border is there on all four sides, the middle holds the seal name.
    assert alpha[150, :12].max() > 200 and alpha[150, -12:].max() > 200
    assert alpha[:12, 200].max() > 200 and alpha[-12:, 200].max() > 200
    assert (alpha[130:185, 120:280] > 128).sum() > 1000


def test_square_seal_reads_right_to_left_top_to_bottom() -> None:
    png = render_square_seal(SquareSealSpec("一三"))  # 一三之印: 一 top right, 三 below it
    assert _image(png).size == (300, 300) and _colours(png) == {SEAL_RED}
    alpha = _alpha(png)
    inner = alpha[30:270, 30:270]  # inside the border
    tl, tr = inner[:120, :120].sum(), inner[:120, 120:].sum()
    bl, br = inner[120:, :120].sum(), inner[120:, 120:].sum()
    assert tr < br < min(tl, bl)  # 一 < 三 < 之, 印
    # The border is closed and the characters keep clear of it.
    for line in (alpha[150, :40], alpha[150, ::-1][:40], alpha[:40, 150], alpha[::-1, 150][:40]):
        assert line[0] == 0 and line[4:20].min() == 255  # border
        assert line[25:34].max() == 0  # clear space between the border and the characters


def test_square_seal_layouts() -> None:
    assert square_seal_text("张三") == "张三之印"
    assert square_seal_text("欧阳修") == "欧阳修印"
    assert square_seal_text("司马相如") == "司马相如"
    assert square_seal_columns("张三") == ["张三", "之印"]
    assert square_seal_columns("欧阳修") == ["欧阳", "修印"]
    assert square_seal_columns("王小明", suffix="") == ["王", "小明"]  # surname alone on the right
    assert square_seal_columns("爱新觉罗玄烨") == ["爱新", "觉罗", "玄烨"]
    assert square_seal_columns("阿卜杜拉提") == ["阿卜", "杜拉", "提印"]
    assert square_seal_columns("阿依努尔买买提") == ["阿依努", "尔买买", "提之印"]
    for name in ("张三", "欧阳修", "爱新觉罗玄烨", "阿依努尔买买提", "某" * 16):
        alpha = _alpha(render_square_seal(SquareSealSpec(name)))
        assert alpha.shape == (300, 300) and alpha[0, 0] == 0


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: RoundSealSpec(""), "must not be empty"),
        (lambda: RoundSealSpec("   "), "must not be empty"),
        (lambda: RoundSealSpec("某" * 41), "too long"),
        (lambda: RoundSealSpec("某某\n公司"), "control"),
        (lambda: RoundSealSpec(42), "must be a string"),  # type: ignore[arg-type]
        (lambda: RoundSealSpec("某某", seal_name="章" * 17), "too long"),
        (lambda: RoundSealSpec("某某", size_px=99), "between 100 and 1200"),
        (lambda: RoundSealSpec("某某", size_px=1201), "between 100 and 1200"),
        (lambda: RoundSealSpec("某某", size_px=400.0), "integer"),  # type: ignore[arg-type]
        (lambda: RoundSealSpec("某某", color=(300, 0, 0)), "color"),
        (lambda: RoundSealSpec("某某", color="red"), "color"),  # type: ignore[arg-type]
        (lambda: RoundSealSpec("某某", color=(230, 0)), "color"),  # type: ignore[arg-type]
        (lambda: RoundSealSpec("某某", code="12ab"), "digits"),
        (lambda: RoundSealSpec("某某", code="１２３"), "digits"),  # full-width digits
        (lambda: RoundSealSpec("某某", border_px=0), "border_px"),
        (lambda: RoundSealSpec("某某", name_font_px=500), "name_font_px"),
        (lambda: RoundSealSpec("某某", char_spacing_deg=1), "char_spacing_deg"),
        (lambda: RoundSealSpec("某" * 30, char_spacing_deg=20), "char_spacing_deg"),
        (lambda: RoundSealSpec("某某", texture=2), "texture"),
        (lambda: OvalSealSpec("某某", width_px=400, height_px=100), "height_px"),
        (lambda: SquareSealSpec(""), "must not be empty"),
        (lambda: SquareSealSpec("某" * 17), "too long"),
        (lambda: SquareSealSpec("张三", suffix="之印章"), "too long"),
    ],
)
def test_invalid_specs_raise_image_error(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ImageError, match=message):
        make()


def test_font_problems_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="font not found"):
        render_seal(RoundSealSpec("某某", font_path="/nonexistent/seal.ttc"))
    with pytest.raises(ConfigurationError, match="Noto Serif CJK SC"):
        render_seal(RoundSealSpec("某某", font_face="No Such Face"))
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font at all")
    with pytest.raises(ConfigurationError, match="cannot be read"):
        render_seal(SquareSealSpec("张三", font_path=str(broken)))
    with pytest.raises(ConfigurationError, match="unknown seal spec"):
        render_seal("北京千书科技有限公司")  # type: ignore[arg-type]
    with pytest.raises(ImageError, match="not in the seal font"):
        render_seal(RoundSealSpec("千书\U0001f600"))
    # Another face of the same collection works.
    assert _image(render_seal(SquareSealSpec("张三", font_face="Noto Serif CJK TC"))).size == (
        300,
        300,
    )


# --------------------------------------------------------------------------------------------
# Artefacts for people to look at
# --------------------------------------------------------------------------------------------


def test_artefacts_and_contact_sheet(round_seals: dict[int, bytes], artifacts_dir: Path) -> None:
    folder = artifacts_dir / "seals"
    folder.mkdir(parents=True, exist_ok=True)
    seals = {
        "round_short": round_seals[2],
        "round_10chars": round_seals[10],
        "round_long_27chars": round_seals[27],
        "round_long_30chars": round_seals[30],
        "round_official": render_seal(RoundSealSpec("北京千书科技有限公司")),
        "round_textured": render_seal(
            RoundSealSpec(NAMES[10], seal_name="合同专用章", code="1101080012345", texture=0.5)
        ),
        "oval_finance": render_seal(
            OvalSealSpec(NAMES[10], seal_name="财务专用章", code="1101080012345")
        ),
        "oval_hr_star": render_seal(OvalSealSpec("千书大学", seal_name="人事专用章", star=True)),
        "square_2char": render_seal(SquareSealSpec("张三")),
        "square_3char": render_seal(SquareSealSpec("欧阳修")),
        "square_4char": render_seal(SquareSealSpec("司马相如")),
        "square_7char": render_seal(SquareSealSpec("阿依努尔买买提")),
    }
    for name, png in seals.items():
        (folder / f"{name}.png").write_bytes(png)
    font = ImageFont.truetype(LABEL_FONT, 20, index=fonts.SC_FACE)
    cell, columns = 420, 4
    rows = math.ceil(len(seals) / columns)
    sheet = Image.new("RGB", (cell * columns, (cell + 30) * rows), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (name, png) in enumerate(seals.items()):
        img = _image(png)
        x, y = (k % columns) * cell, (k // columns) * (cell + 30)
        sheet.paste(img, (x + (cell - img.width) // 2, y + (cell - img.height) // 2), img)
        draw.text((x + cell // 2, y + cell + 4), name, font=font, fill="black", anchor="mt")
    sheet.save(folder / "contact_sheet.png")
    assert (folder / "contact_sheet.png").stat().st_size > 50_000
