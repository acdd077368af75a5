"""The ``seal-image`` command."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image


def test_renders_a_round_seal(tmp_path: Path) -> None:
    out = tmp_path / "seal.png"
    call_command(
        "seal_image",
        "--org",
        "某某大学招标办公室",
        "--name",
        "合同专用章",
        "--code",
        "3502000012345",
        "-o",
        str(out),
        "--size",
        "300",
        stdout=io.StringIO(),
    )
    img = Image.open(out)
    assert img.mode == "RGBA" and img.size == (300, 300)
    assert img.getpixel((0, 0))[3] == 0  # transparent outside the ring
    colours = {px[:3] for px in img.get_flattened_data() if px[3] > 0}
    assert colours == {(230, 0, 18)}


def test_square_and_oval_and_colour(tmp_path: Path) -> None:
    square = tmp_path / "sq.png"
    call_command(
        "seal_image", "--shape", "square", "--name", "张三", "-o", str(square), stdout=io.StringIO()
    )
    assert Image.open(square).size[0] == Image.open(square).size[1]
    oval = tmp_path / "oval.png"
    call_command(
        "seal_image",
        "--shape",
        "oval",
        "--org",
        "某某有限公司",
        "--name",
        "财务专用章",
        "--color",
        "#C00000",
        "--size",
        "400",
        "-o",
        str(oval),
        stdout=io.StringIO(),
    )
    img = Image.open(oval)
    assert img.size == (400, 300)
    assert {px[:3] for px in img.get_flattened_data() if px[3] > 0} == {(192, 0, 0)}


@pytest.mark.parametrize(
    "args",
    [
        ["--org", "", "-o", "x.png"],
        ["--shape", "square", "-o", "x.png"],
        ["--org", "某某", "--size", "5", "-o", "x.png"],
        ["--org", "某某", "--color", "red", "-o", "x.png"],
        ["--org", "某" * 60, "-o", "x.png"],
    ],
)
def test_bad_parameters_give_clear_errors(args: list[str], tmp_path: Path) -> None:
    args = [a if a != "x.png" else str(tmp_path / "x.png") for a in args]
    with pytest.raises(CommandError):
        call_command("seal_image", *args, stdout=io.StringIO())
    assert not (tmp_path / "x.png").exists()
