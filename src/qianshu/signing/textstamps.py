"""Typed text as a signature appearance: a signer's filled-in text and the signing date.

A 文本 field the signer fills in while signing (e.g. 自评 on an evaluation form) and a 签署日期
field are signature fields of that signer, like a handwritten signature: the value is the
appearance of the signer's own signature, so that signature covers it and nothing can change it
afterwards without breaking it (on a certified document, signing a declared field is the
"form filling and signing" that DocMDP P=2 permits). :func:`appearance_stream` draws the value
as real PDF text — the same embedded CID-keyed subset of Noto Sans CJK SC with ``/ToUnicode``
as the data fields the sender fills (:mod:`qianshu.signing.cjkfont`) — so ``pdftotext``, search
and copy and paste give the value back, instead of a picture of it.

Layout is :func:`qianshu.signing.filltext.measure` on the widget's box (padding, size ladder
10.5 to 7 pt, wrapping, no line starting with closing punctuation). A value that does not fit
is refused (:class:`~qianshu.signing.filltext.FillError` ``fill_too_long``) before anything is
signed, never shrunk out of sight: :func:`check` lets callers refuse it with the field named.
A single-line stamp (the date) is shrunk to the box instead, down to 4 pt.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import BasePdfFileWriter

from qianshu.signing import cjkfont, filltext
from qianshu.signing.errors import ConfigurationError
from qianshu.signing.stamps import Rect, pdf_number

_FONT = "/QSText"


@dataclass(frozen=True)
class TextStamp:
    """A value to draw as a field's appearance; ``name`` names the field in refusals.

    ``multiline``: wrapped to the box (sizes 10.5 to 7 pt, see :mod:`filltext`); otherwise one
    line, as large as the box allows up to 10.5 pt and down to 4 pt (a date)."""

    name: str
    text: str
    multiline: bool = True


def layout(stamp: TextStamp, width: float, height: float) -> filltext.Layout:
    """Where the lines of ``stamp`` go in a ``width`` x ``height`` box. Raises
    :class:`~qianshu.signing.filltext.FillError` when it cannot be drawn there."""
    box = Rect(0.0, 0.0, width, height)
    if stamp.multiline:
        return filltext.measure(filltext.TextFill(stamp.name, 0, box, stamp.text, multiline=True))
    units = sum(cjkfont.advance_widths().get(ch, cjkfont.UNITS_PER_EM) for ch in stamp.text)
    inner_w, inner_h = width - 2 * filltext.PADDING, height - 2 * filltext.PADDING
    fitting = min(inner_h, inner_w * cjkfont.UNITS_PER_EM / max(units, 1))
    size = max(filltext.SIZE_RANGE[0], min(filltext.DEFAULT_SIZE, fitting))
    # Rounded down to a tenth of a point so that rounding never makes it overflow.
    size = int(size * 10) / 10
    return filltext.measure(filltext.TextFill(stamp.name, 0, box, stamp.text, size=size))


def check(stamp: TextStamp, width: float, height: float) -> None:
    """Raise :class:`~qianshu.signing.filltext.FillError` when ``stamp`` cannot be drawn in a
    box of that size (too long, a character without a glyph, a line break in one line)."""
    layout(stamp, width, height)


def appearance_stream(
    writer: BasePdfFileWriter, stamp: TextStamp, width: float, height: float
) -> generic.IndirectObject:
    """A form XObject of ``width`` x ``height`` points with ``stamp`` drawn as black text in an
    embedded subset font. Raises :class:`~qianshu.signing.filltext.FillError` as :func:`check`."""
    placed = layout(stamp, width, height)
    chars = "".join(sorted(set("".join(placed.lines))))
    ops = [b"q 0 g 0 Tr BT"]
    resources = generic.DictionaryObject()
    if chars:
        font = cjkfont.subset_cjk_font(chars)
        if not set(chars) <= font.cids.keys():  # measure() checked the full face
            raise ConfigurationError("the CJK font subset lacks characters the full font has")
        resources[pdf_name("/Font")] = generic.DictionaryObject(
            {pdf_name(_FONT): _embed_font(writer, font)}
        )
        ops.append(_FONT.encode("ascii") + b" " + pdf_number(placed.size) + b" Tf")
        for line, (x, y) in zip(placed.lines, placed.origins, strict=True):
            ops.append(b"1 0 0 1 %s %s Tm %s Tj" % (*map(pdf_number, (x, y)), font.encode(line)))
    ops.append(b"ET Q")
    form = generic.StreamObject(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Form"),
                pdf_name("/BBox"): generic.ArrayObject(
                    [generic.NumberObject(0), generic.NumberObject(0)]
                    + [generic.FloatObject(round(v, 4)) for v in (width, height)]
                ),
                pdf_name("/Resources"): resources,
            }
        ),
        stream_data=b"\n".join(ops),
    )
    form.compress()
    return writer.add_object(form)


def _embed_font(writer: BasePdfFileWriter, font: cjkfont.CjkFont) -> generic.IndirectObject:
    """``font`` as a /Type0 font in ``writer`` (the objects of
    :func:`qianshu.signing.cjkfont.embed_cjk_font`, written with pyHanko's object model)."""
    parts = cjkfont.font_dictionaries(font)
    font_file = generic.StreamObject(
        generic.DictionaryObject({pdf_name("/Subtype"): pdf_name("/CIDFontType0C")}),
        stream_data=font.cff,
    )
    font_file.compress()
    to_unicode = generic.StreamObject(stream_data=cjkfont.to_unicode_cmap(font))
    to_unicode.compress()
    descriptor = _dictionary(parts.descriptor)
    descriptor[pdf_name("/FontFile3")] = writer.add_object(font_file)
    cid_font = _dictionary(parts.cid_font)
    cid_font[pdf_name("/FontDescriptor")] = writer.add_object(descriptor)
    type0 = _dictionary(parts.type0)
    type0[pdf_name("/DescendantFonts")] = generic.ArrayObject([writer.add_object(cid_font)])
    type0[pdf_name("/ToUnicode")] = writer.add_object(to_unicode)
    return writer.add_object(type0)


def _dictionary(entries: dict[str, object]) -> generic.DictionaryObject:
    return generic.DictionaryObject({pdf_name(k): _value(v) for k, v in entries.items()})


def _value(value: object) -> generic.PdfObject:
    if isinstance(value, dict):
        return _dictionary(value)
    if isinstance(value, list):
        return generic.ArrayObject([_value(v) for v in value])
    if isinstance(value, bool):
        return generic.BooleanObject(value)
    if isinstance(value, int):
        return generic.NumberObject(value)
    if isinstance(value, float):
        return generic.FloatObject(value)
    if isinstance(value, str) and value.startswith("/"):
        return pdf_name(value)
    return generic.TextStringObject(str(value))
