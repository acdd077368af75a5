"""Corpus files about what later revisions add to the page.

The contract of :func:`~qianshu.signing.samples.make_test_pdf` names its price, ¥123,456.00,
in clause 1. In the uncertified flow (signers place their own fields, so the platform's
prepare signature is an approval signature) the attacker — anyone holding a certificate the
verifier trusts — adds a genuine signature whose appearance paints "¥923,456.00" over it.
"""

from __future__ import annotations

import functools
import io

import pypdfium2 as pdfium
from PIL import Image, ImageDraw
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigFieldSpec
from pyhanko.stamp import TextStampStyle

from qianshu.signing import documents, fonts, stamps
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.samples import make_test_pdf
from tests.signing import helpers
from tests.signing.corpus import trust_files

AMOUNT = "123,456.00"
FORGED_AMOUNT = "¥923,456.00"
# Blank space on page 1 of the contract below the signature block (points).
BLANK = stamps.Rect(300, 75, 420, 125)


@functools.cache
def contract() -> bytes:
    return make_test_pdf(pages=1)


def text_rect(pdf: bytes, text: str, *, page: int = 0, pad: float = 1.5) -> stamps.Rect:
    """Where ``text`` is printed on the page (PDF points)."""
    doc = pdfium.PdfDocument(pdf)
    try:
        textpage = doc[page].get_textpage()
        full = textpage.get_text_range()
        at = full.find(text)
        assert at >= 0, f"{text!r} is not on page {page + 1}"
        boxes = [textpage.get_charbox(i) for i in range(at - 1, at + len(text))]  # with "¥"
    finally:
        doc.close()
    return stamps.Rect(
        min(b[0] for b in boxes) - pad,
        min(b[1] for b in boxes) - pad,
        max(b[2] for b in boxes) + pad,
        max(b[3] for b in boxes) + pad,
    )


def forged_amount_picture(
    rect: stamps.Rect, background: tuple[int, int, int, int] = (255, 255, 255, 255)
) -> Image.Image:
    """An opaque patch with the forged amount, to lay over the printed one."""
    scale = 8
    width, height = int(rect.width * scale), int(rect.height * scale)
    img = Image.new("RGBA", (width, height), background)
    font = stamps._font(fonts.SANS_REGULAR, int(height * 0.8))
    ImageDraw.Draw(img).text((scale, 0), FORGED_AMOUNT, fill=(0, 0, 0, 255), font=font)
    return img


def forged_amount_image(
    rect: stamps.Rect, background: tuple[int, int, int, int] = (255, 255, 255, 255)
) -> stamps.StampImage:
    """The patch of :func:`forged_amount_picture` as our stamps encode it."""
    out = io.BytesIO()
    forged_amount_picture(rect, background).save(out, "PNG")
    return stamps.StampImage.from_png(out.getvalue())


def _self_placed(
    platform: EphemeralPlatform, data: bytes, name: str, field: str, rect: stamps.Rect
) -> bytes:
    """A signer places its own field, then signs it (two revisions, as the platform does)."""
    declared = documents.declare_fields(data, [documents.FieldSpec(field, 0, rect)])
    return documents.sign_turn(
        declared,
        [documents.Placement(field, helpers.signature_image(name))],
        signer=platform.person_signer(name),
        timestamper=platform.timestamper,
    )


def uncertified_signed(platform: EphemeralPlatform, rect: stamps.Rect = BLANK) -> bytes:
    """Prepared with an approval signature; one signer places and signs its own field."""
    prepared = documents.prepare_document(
        contract(), [], certifier=platform.certifier, timestamper=platform.timestamper,
        certify=False,
    )  # fmt: skip
    return _self_placed(platform, prepared, "Alice", "alice", rect)


def overlay(
    platform: EphemeralPlatform,
    data: bytes,
    background: tuple[int, int, int, int] = (255, 255, 255, 255),
) -> bytes:
    """Mallory adds a field over the printed amount and signs it, with pyHanko's own stamp
    (normal blending, as any tool but ours paints): the patch hides the amount."""
    rect = text_rect(contract(), AMOUNT)
    style = TextStampStyle(
        stamp_text=" ",
        background=PdfImage(forged_amount_picture(rect, background)),
        background_opacity=1.0,
        border_width=0,
    )
    pdf_signer = signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name="mallory"),
        signer=platform.person_signer("Mallory"),
        timestamper=platform.timestamper,
        stamp_style=style,
        new_field_spec=SigFieldSpec("mallory", on_page=0, box=rect.as_tuple()),
    )
    out = io.BytesIO()
    pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)), output=out)
    return out.getvalue()


def self_placed_on_blank(platform: EphemeralPlatform) -> bytes:
    """Control: the normal self-placement flow on blank space, finished (no lock)."""
    return helpers.finish(platform, uncertified_signed(platform))


def self_placed_locked(platform: EphemeralPlatform) -> bytes:
    """Control: the same, completed with a document time-stamp that locks all fields."""
    return trust_files.finish_by_hand(platform, uncertified_signed(platform), lock=True)


def self_placed_over_text(platform: EphemeralPlatform) -> bytes:
    """A self-placed signature whose ink runs over the signature block's printed text."""
    rect = text_rect(contract(), "日期：", pad=4)
    over = stamps.Rect(rect.x1 - 10, rect.y1 - 6, rect.x1 + 110, rect.y2 + 6)
    return uncertified_signed(platform, over)


def overlay_after_completion(platform: EphemeralPlatform) -> bytes:
    """The reproduced attack: completed (and locked), then a genuine signature painted over
    the amount."""
    return overlay(platform, self_placed_locked(platform))


def overlay_before_completion(platform: EphemeralPlatform) -> bytes:
    """The same overlay on a document that is not completed yet."""
    return overlay(platform, uncertified_signed(platform))


def overlay_after_unlocked_timestamp(platform: EphemeralPlatform) -> bytes:
    """The overlay on a document finished without a completion lock (as before issue 11)."""
    return overlay(platform, self_placed_on_blank(platform))


def _invisible_signature(platform: EphemeralPlatform, data: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    out = io.BytesIO()
    signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name="extra", md_algorithm="sha256"),
        platform.person_signer("Eve"),
        timestamper=platform.timestamper,
    ).sign_pdf(writer, output=out)
    return out.getvalue()


def _late_field(data: bytes) -> bytes:
    return documents.declare_fields(
        data, [documents.FieldSpec("late", 0, stamps.Rect(60, 60, 200, 100))]
    )


def invisible_signature_after_completion(platform: EphemeralPlatform) -> bytes:
    """Completed and locked, then one more signature in a new, invisible field."""
    return _invisible_signature(platform, self_placed_locked(platform))


def field_added_after_completion(platform: EphemeralPlatform) -> bytes:
    """Completed and locked, then an empty signature field is declared."""
    return _late_field(self_placed_locked(platform))


def signature_after_unlocked_timestamp(platform: EphemeralPlatform) -> bytes:
    """Time-stamped without a lock, then another (invisible) signature: PAdES allows it."""
    return _invisible_signature(platform, self_placed_on_blank(platform))


def renewal_after_completion(platform: EphemeralPlatform) -> bytes:
    """Completed and locked, then an archive renewal (new validation data, time-stamp)."""
    return trust_files.renew(platform, self_placed_locked(platform), "QS-DocTimeStamp-2")
