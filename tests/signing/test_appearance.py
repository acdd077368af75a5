"""How stamps look on the page: ink that multiplies with the text, and cross-page seal strips.

Pages are rendered with PDFium (pypdfium2, the engine of Chrome's viewer) with forms
initialised, so signature widgets are drawn as a viewer draws them.
"""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
from PIL import Image

from qianshu.signing import documents, stamps
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.stamps import Rect, StampImage
from tests.signing import helpers

SEAL_RED = (230, 0, 18)
# helpers.make_pdf writes 18 pt Helvetica at (72, 760) on every page.
OVER_TEXT = Rect(60, 720, 300, 800)


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return helpers.make_platform()


def _solid_seal(width: int = 240, height: int = 80) -> StampImage:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (*SEAL_RED, 255)).save(out, "PNG")
    return StampImage.from_png(out.getvalue())


def _render(data: bytes, page: int = 0) -> Image.Image:
    doc = pdfium.PdfDocument(data)
    doc.init_forms()  # draw widget annotations (signature appearances)
    return doc[page].render(scale=1, may_draw_forms=True).to_pil().convert("RGB")


def _is_seal_red(pixel: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(pixel, SEAL_RED, strict=True))


def test_a_seal_over_text_multiplies_so_the_text_stays_visible(
    platform: EphemeralPlatform,
) -> None:
    prepared = helpers.prepare(
        platform, helpers.make_pdf(pages=1), (documents.FieldSpec("seal", 0, OVER_TEXT),)
    )
    signer = platform.seal_signer("Acme Ltd", helpers.CREDIT_CODE, "Contract seal")
    signed = documents.sign_turn(
        prepared, [documents.Placement("seal", _solid_seal())], signer=signer, timestamper=None
    )
    plain = _render(prepared)
    sealed = _render(signed)
    height = sealed.height
    # Inside the seal: where the page has black text the sealed page stays dark (red x black),
    # and where the page is white it is seal red (red x white).
    text_pixels = [
        (x, y)
        for x in range(int(OVER_TEXT.x1) + 2, int(OVER_TEXT.x2) - 2)
        for y in range(height - int(OVER_TEXT.y2) + 2, height - int(OVER_TEXT.y1) - 2)
        if sum(plain.getpixel((x, y))) < 120  # type: ignore[arg-type]
    ]
    assert len(text_pixels) > 50, "the test page has text under the seal"
    for x, y in text_pixels:
        r, g, b = sealed.getpixel((x, y))  # type: ignore[misc]
        assert r < 90 and g < 40 and b < 40, f"text at {(x, y)} is hidden: {(r, g, b)}"
    assert _is_seal_red(sealed.getpixel((int(OVER_TEXT.x2) - 5, height - 730)))  # type: ignore[arg-type]


def test_a_cross_page_seal_shows_its_strip_on_every_page(platform: EphemeralPlatform) -> None:
    pdf = helpers.make_pdf(pages=3)
    prepared = documents.prepare_document(
        pdf, [], certifier=platform.certifier, timestamper=None, certify=False
    )
    slices = stamps.cross_page_slices(documents.page_boxes(pdf), [0, 1, 2], seal_size_pt=120)
    signer = platform.seal_signer("Acme Ltd", helpers.CREDIT_CODE, "Contract seal")
    seal = _solid_seal(120, 120)
    signed = documents.sign_turn(
        prepared,
        [documents.Placement("cps", seal, new_widgets=tuple(slices))],
        signer=signer,
        timestamper=None,
    )
    for page, rect in slices:
        img = _render(signed, page)
        centre = (int((rect.x1 + rect.x2) / 2), img.height - int((rect.y1 + rect.y2) / 2))
        assert _is_seal_red(img.getpixel(centre)), f"no strip on page {page + 1}"  # type: ignore[arg-type]
        left_of_strip = (int(rect.x1) - 5, centre[1])
        assert img.getpixel(left_of_strip) == (255, 255, 255)
