"""Seal images: round, oval and square seals that look like real ones, for 2 to 30 characters."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qianshu.signing.errors import ConfigurationError, ImageError
from qianshu.signing.seals import (
    SEAL_RED,
    OvalSealSpec,
    RoundSealSpec,
    SquareSealSpec,
    render_seal,
    square_seal_text,
)

NAMES = {
    "2chars": "某司",
    "10chars": "厦门某某科技有限公司",
    "27chars": "中国某某集团有限公司厦门分公司某某研究院第一技术服务中心",
}


def _image(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.mode == "RGBA"
    return img


def _alpha(img: Image.Image) -> np.ndarray:
    return np.asarray(img.getchannel("A"), dtype=np.int32)


def _single_colour(img: Image.Image) -> set[tuple[int, int, int]]:
    rgba = np.asarray(img)
    return {tuple(int(c) for c in px[:3]) for px in rgba[rgba[..., 3] > 0]}


@pytest.fixture(scope="module")
def round_seals() -> dict[str, bytes]:
    return {
        key: render_seal(RoundSealSpec(org_name=name, seal_name="合同专用章", code="3502000012345"))
        for key, name in NAMES.items()
    }


@pytest.mark.parametrize("key", list(NAMES))
def test_round_seal_ink_stays_inside_the_ring(round_seals: dict[str, bytes], key: str) -> None:
    img = _image(round_seals[key])
    assert img.size == (400, 400)
    assert _single_colour(img) == {SEAL_RED}
    alpha = _alpha(img)
    ys, xs = np.nonzero(alpha > 0)
    radius = np.hypot(xs - 199.5, ys - 199.5)
    assert radius.max() <= 200  # nothing outside the outer circle
    # The border ring is drawn all round: opaque pixels at every angle near the edge.
    for angle in range(0, 360, 15):
        t = math.radians(angle)
        ring = [
            alpha[int(200 + r * math.sin(t)), int(200 + r * math.cos(t))] for r in range(186, 199)
        ]
        assert max(ring) > 200, f"ring broken at {angle} degrees"
    # The name fills the upper arc, the star the centre, nothing is blank.
    assert alpha[180:220, 180:220].max() > 200  # star
    assert (alpha[20:120, :] > 128).mean() > 0.05  # text along the upper arc


def test_longer_names_use_more_of_the_arc(round_seals: dict[str, bytes]) -> None:
    def arc_span(png: bytes) -> float:
        alpha = _alpha(_image(png))
        ys, xs = np.nonzero(alpha[:200] > 128)
        radius = np.hypot(xs - 199.5, ys - 199.5)
        name_ring = (radius > 110) & (radius < 175)
        angles = np.degrees(np.arctan2(ys[name_ring] - 199.5, xs[name_ring] - 199.5))
        return float(angles.max() - angles.min())

    assert arc_span(round_seals["2chars"]) < arc_span(round_seals["27chars"])


def test_seals_are_deterministic_and_parameters_apply() -> None:
    spec = RoundSealSpec(org_name="某某大学", seal_name="公章")
    assert render_seal(spec) == render_seal(spec)
    custom = _image(
        render_seal(
            RoundSealSpec(org_name="某某大学", size_px=300, color=(180, 0, 0), border_px=14)
        )
    )
    assert custom.size == (300, 300)
    assert _single_colour(custom) == {(180, 0, 0)}
    thin = _alpha(_image(render_seal(RoundSealSpec(org_name="某某大学", size_px=300, border_px=3))))
    thick = _alpha(custom)
    assert (thick[150, :40] > 128).sum() > (thin[150, :40] > 128).sum()


def test_oval_and_square_seals() -> None:
    oval = _image(
        render_seal(OvalSealSpec(org_name="厦门某某科技有限公司", seal_name="财务专用章"))
    )
    assert oval.size == (400, 300)
    alpha = _alpha(oval)
    assert alpha[0, 0] == 0 and alpha[0, -1] == 0 and alpha[-1, 0] == 0
    assert alpha[150, :12].max() > 200  # ellipse border on the left
    for name, cells in (("张三", 4), ("欧阳修", 4), ("爱新觉罗玄烨", 6)):
        square = _image(render_seal(SquareSealSpec(name=name)))
        assert square.width == square.height
        text = square_seal_text(name)
        assert len(text) == cells
        a = _alpha(square)
        assert a[a.shape[0] // 2, :8].max() > 200  # square border
    assert square_seal_text("张三") == "张三之印"
    assert square_seal_text("欧阳修") == "欧阳修印"


@pytest.mark.parametrize(
    ("factory", "error"),
    [
        (lambda: RoundSealSpec(org_name=""), ImageError),
        (lambda: RoundSealSpec(org_name="某" * 41), ImageError),
        (lambda: RoundSealSpec(org_name="某某", size_px=50), ImageError),
        (lambda: RoundSealSpec(org_name="某某", color=(300, 0, 0)), ImageError),
        (lambda: RoundSealSpec(org_name="某某", code="12ab"), ImageError),
        (lambda: OvalSealSpec(org_name="某某", width_px=400, height_px=100), ImageError),
        (lambda: SquareSealSpec(name=""), ImageError),
        (
            lambda: render_seal(RoundSealSpec(org_name="某某", font_path="/nonexistent.ttc")),
            ConfigurationError,
        ),
    ],
)
def test_invalid_specs_give_clear_errors(factory, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        factory()


def test_contact_sheet_artefact(round_seals: dict[str, bytes], artifacts_dir: Path) -> None:
    """A sheet of seals for people to look at (artifacts/seals/)."""
    folder = artifacts_dir / "seals"
    folder.mkdir(parents=True, exist_ok=True)
    images = []
    for key, png in round_seals.items():
        (folder / f"round_{key}.png").write_bytes(png)
        images.append(_image(png))
    extra = {
        "oval_finance": OvalSealSpec(
            org_name="厦门某某科技有限公司", seal_name="财务专用章", code="3502000012346"
        ),
        "oval_hr": OvalSealSpec(org_name="某某大学", seal_name="人事专用章"),
        "square_2char": SquareSealSpec(name="张三"),
        "square_3char": SquareSealSpec(name="欧阳修"),
        "round_official": RoundSealSpec(org_name="某某大学", seal_name=""),
    }
    for key, spec in extra.items():
        png = render_seal(spec)
        (folder / f"{key}.png").write_bytes(png)
        images.append(_image(png))
    width = sum(i.width for i in images) + 10 * len(images)
    sheet = Image.new("RGBA", (width, max(i.height for i in images)), "white")
    x = 0
    for img in images:
        sheet.paste(img, (x, 0), img)
        x += img.width + 10
    sheet.save(folder / "contact_sheet.png")
    assert (folder / "contact_sheet.png").stat().st_size > 10_000
