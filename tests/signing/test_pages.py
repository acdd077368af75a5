"""Tests of page sizes and page rendering for the document viewer."""

from __future__ import annotations

import io

import pikepdf
import pytest
from PIL import Image

from qianshu.signing import samples
from qianshu.signing.errors import (
    BrokenPdfError,
    EncryptedPdfError,
    NotAPdfError,
    PdfError,
    PdfTooLargeError,
)
from qianshu.signing.pages import PageSize, page_sizes, render_page, render_thumbnails
from tests.support import pdfs as testpdfs


@pytest.fixture(scope="module")
def mixed() -> bytes:
    """A4 portrait, A4 landscape, and A4 portrait turned by /Rotate 90."""
    return samples.make_test_pdf(
        3,
        sizes=[samples.A4_PORTRAIT, samples.A4_LANDSCAPE, samples.A4_PORTRAIT],
        rotations=[0, 0, 90],
    )


def dark_pixels(image: Image.Image, box: tuple[int, int, int, int] | None = None) -> int:
    area = image.convert("L").crop(box) if box else image.convert("L")
    return sum(count for value, count in enumerate(area.histogram()) if value < 128)


def test_page_sizes(mixed: bytes) -> None:
    assert page_sizes(mixed) == (
        PageSize(595.28, 841.89),
        PageSize(841.89, 595.28),
        PageSize(841.89, 595.28),
    )


def test_page_sizes_apply_user_unit() -> None:
    with pikepdf.open(io.BytesIO(samples.make_test_pdf(1))) as pdf:
        pdf.pages[0].obj.UserUnit = 2
        out = io.BytesIO()
        pdf.save(out)

    assert page_sizes(out.getvalue()) == (PageSize(1190.56, 1683.78),)


@pytest.mark.parametrize(
    ("index", "aspect"), [(0, 841.89 / 595.28), (1, 595.28 / 841.89), (2, 595.28 / 841.89)]
)
def test_render_page_png_has_the_requested_width_and_ink(
    mixed: bytes, index: int, aspect: float
) -> None:
    png = render_page(mixed, index, width_px=1000)

    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.width == 1000
    assert abs(image.height - 1000 * aspect) <= 1  # PDFium rounds the height up
    assert dark_pixels(image) > 2000  # text, not a blank page


@pytest.mark.parametrize(("fmt", "pil_format"), [("jpeg", "JPEG"), ("webp", "WEBP")])
def test_render_page_other_formats(mixed: bytes, fmt: str, pil_format: str) -> None:
    image = Image.open(io.BytesIO(render_page(mixed, 0, width_px=333, fmt=fmt)))  # type: ignore[arg-type]

    assert image.format == pil_format
    assert image.width == 333
    assert dark_pixels(image) > 100


def test_render_is_deterministic(mixed: bytes) -> None:
    assert render_page(mixed, 1, width_px=400) == render_page(mixed, 1, width_px=400)


def test_thumbnails(mixed: bytes) -> None:
    thumbnails = render_thumbnails(mixed)

    images = [Image.open(io.BytesIO(png)) for png in thumbnails]
    assert [image.width for image in images] == [200, 200, 200]
    assert [image.height > 200 for image in images] == [True, False, False]
    assert all(dark_pixels(image) > 50 for image in images)


def test_signature_appearance_is_rendered() -> None:
    box = (72, 60, 272, 128)
    unsigned = samples.make_test_pdf(1)
    signed = testpdfs.make_signed_pdf(unsigned, box=box)
    # At 595 px wide one pixel is one point; PIL's y axis points down.
    crop = (72, round(841.89 - 128), 272, round(841.89 - 60))

    before = dark_pixels(Image.open(io.BytesIO(render_page(unsigned, 0, width_px=595))), crop)
    after = dark_pixels(Image.open(io.BytesIO(render_page(signed, 0, width_px=595))), crop)

    assert after > before + 300


def test_form_fields_are_rendered() -> None:
    data = testpdfs.make_pdf_with_form_fields()
    x1, y1, x2, y2 = testpdfs.CHECKBOX_RECT
    image = Image.open(io.BytesIO(render_page(data, 0, width_px=595)))

    assert dark_pixels(image, (int(x1), round(841.89 - y2), int(x2), round(841.89 - y1))) > 50


@pytest.mark.parametrize("index", [3, -1, 100])
def test_page_index_out_of_range(mixed: bytes, index: int) -> None:
    with pytest.raises(PdfError) as caught:
        render_page(mixed, index)

    assert caught.value.code == "page_index"
    assert "out of range" in str(caught.value) and "3 page(s)" in str(caught.value)


@pytest.mark.parametrize("width", [99, 3001, 0, -5])
def test_width_is_bounded(mixed: bytes, width: int) -> None:
    with pytest.raises(PdfError) as caught:
        render_page(mixed, 0, width_px=width)

    assert caught.value.code == "render_width"
    assert "between 100 and 3000" in str(caught.value)


def test_width_bounds_are_inclusive(mixed: bytes) -> None:
    assert Image.open(io.BytesIO(render_page(mixed, 1, width_px=100))).width == 100
    assert Image.open(io.BytesIO(render_page(mixed, 1, width_px=3000))).width == 3000


def test_unknown_format(mixed: bytes) -> None:
    with pytest.raises(PdfError) as caught:
        render_page(mixed, 0, fmt="gif")  # type: ignore[arg-type]

    assert caught.value.code == "render_format"


def test_extreme_aspect_ratio_is_refused() -> None:
    data = samples.make_test_pdf(1, with_cjk_text=False, size=(10, 14000))

    with pytest.raises(PdfTooLargeError):
        render_page(data, 0, width_px=1000)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", NotAPdfError),
        (b"just some text", NotAPdfError),
        (b"%PDF-1.7\n garbage \n%%EOF", BrokenPdfError),
    ],
)
def test_unreadable_input(data: bytes, error: type[PdfError]) -> None:
    for call in (
        lambda: render_page(data, 0),
        lambda: render_thumbnails(data),
        lambda: page_sizes(data),
    ):
        with pytest.raises(PdfError) as caught:
            call()
        assert type(caught.value) is error


@pytest.mark.parametrize("password", ["", "1234"])
def test_encrypted_input(password: str) -> None:
    data = testpdfs.make_encrypted_pdf(user_password=password)

    for call in (lambda: render_page(data, 0), lambda: page_sizes(data)):
        with pytest.raises(PdfError) as caught:
            call()
        assert type(caught.value) is EncryptedPdfError
