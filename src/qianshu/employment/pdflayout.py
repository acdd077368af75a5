"""Page layout of the agreement PDFs (:mod:`qianshu.employment.documents`): flowing text,
labelled tables, the parties' signature blocks, and the writing of the PDF.

A :class:`Canvas` lays out top to bottom on A4 pages with 20 mm margins and keeps each page's
operations; text stays a string until the end, when :func:`write_pdf` embeds one subset of Noto
Sans CJK SC with exactly the characters used (:mod:`qianshu.signing.cjkfont`) and writes every
string as glyph ids. Wrapping is :func:`qianshu.signing.filltext.measure`'s. Text given here must
already be checked (every character has a glyph; no control characters): the documents module
does that with messages for the user.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pikepdf

from qianshu.signing import cjkfont
from qianshu.signing.errors import ConfigurationError
from qianshu.signing.filltext import PADDING, FillError, TextFill, measure
from qianshu.signing.samples import save_pdf
from qianshu.signing.stamps import Rect

Spot = tuple[int, tuple[float, float, float, float]]
#: A label and the lines of its value.
Cell = tuple[str, list[str]]

PAGE_SIZE = (595.28, 841.89)  # A4 portrait
MARGIN = 20 * 72 / 25.4
SEAL_SIZE = 120.0  # a 42 mm seal is 119 pt
SIGNATURE_SIZE = (120.0, 48.0)
DATE_SIZE = (110.0, 22.0)

LEFT, RIGHT = MARGIN, PAGE_SIZE[0] - MARGIN
TOP, BOTTOM = PAGE_SIZE[1] - MARGIN, MARGIN
WIDTH = RIGHT - LEFT
LABEL_W = 96.0
HALF_W = WIDTH / 2 - LABEL_W  # the value cell of a half row
WIDE_W = WIDTH - LABEL_W  # the value cell of a whole row
SIZE = 10.0  # table text
LEADING = 1.35
_PAD_X, _PAD_Y = 4.0, 4.0
_HEADING = 12.0
_PARTY_HEADING = 10.5
_FOOTER = 8.5
_ASCENT = 0.88  # the ideographic em box: 880 units above the baseline, 120 below
_GRID = b"0.5 w 0.45 G"


class PageLimitError(Exception):
    """The layout needs more pages than the canvas allows, or the signature blocks more
    than a page."""


def wrap(text: str, width: float, size: float) -> list[str]:
    """``text`` (one checked paragraph) in lines of at most ``width`` points (at least one)."""
    if not text:
        return [""]
    box = Rect(0, 0, width + 2 * PADDING, 1e7)
    try:
        layout = measure(TextFill("text", 0, box, text, multiline=True, size=size))
    except FillError as exc:  # the caller lets through only what the font draws
        raise ConfigurationError(f"cannot lay out checked text: {exc}") from exc
    return list(layout.lines) or [""]


def text_width(text: str, size: float) -> float:
    widths = cjkfont.advance_widths()
    return sum(widths[ch] for ch in text) * size / cjkfont.UNITS_PER_EM


@dataclass
class Canvas:
    """Pages of drawing operations, filled top to bottom; ``y`` is the top of the free space."""

    max_pages: int
    pages: list[list[bytes | tuple[float, float, float, str]]] = field(default_factory=list)
    y: float = TOP

    def __post_init__(self) -> None:
        self.new_page()

    def new_page(self) -> None:
        if len(self.pages) >= self.max_pages:
            raise PageLimitError
        self.pages.append([])
        self.y = TOP

    @property
    def room(self) -> float:
        return self.y - BOTTOM

    def text(self, x: float, baseline: float, text: str, size: float) -> None:
        if text:
            self.pages[-1].append((x, baseline, size, text))

    def draw(self, ops: bytes) -> None:
        self.pages[-1].append(ops)

    def lines(self, text: str, size: float, *, centred: bool = False, gap: float = 0.0) -> None:
        """A paragraph, wrapped to the width and flowing onto new pages line by line."""
        for line in wrap(text, WIDTH, size):
            if self.room < size * LEADING:
                self.new_page()
            self.y -= size * LEADING
            shift = (WIDTH - text_width(line, size)) / 2 if centred else 0.0
            self.text(LEFT + shift, self.y, line, size)
        self.y -= gap


def rows(items: Sequence[tuple[str, str, bool]]) -> list[list[Cell]]:
    """Table rows from (label, value, wide) items: two values side by side when neither is
    ``wide`` and both fit on one line of a half row, else one value per row."""
    result: list[list[Cell]] = []
    pending: tuple[str, str] | None = None
    for label, value, wide in items:
        fits = not wide and "\n" not in value and text_width(value, SIZE) <= HALF_W - 2 * _PAD_X
        if pending is not None and fits:
            result.append([_cell(*pending, HALF_W), _cell(label, value, HALF_W)])
            pending = None
            continue
        if pending is not None:
            result.append([_cell(*pending, WIDE_W)])
            pending = None
        if fits:
            pending = (label, value)
        else:
            result.append([_cell(label, value, WIDE_W)])
    if pending is not None:
        result.append([_cell(*pending, WIDE_W)])
    return result


def _cell(label: str, value: str, width: float) -> Cell:
    lines: list[str] = []
    for paragraph in value.split("\n"):
        lines += wrap(paragraph, width - 2 * _PAD_X, SIZE)
    return label, lines


def _cell_height(lines: int) -> float:
    return 2 * _PAD_Y + SIZE + (lines - 1) * SIZE * LEADING


def table(canvas: Canvas, heading: str, table_rows: Sequence[list[Cell]]) -> None:
    """A section heading and its table. A row taller than the rest of the page is cut between
    lines and continues on the next page, its labels marked （续）."""
    if canvas.room < _HEADING * LEADING + 4 + _cell_height(1):
        canvas.new_page()
    canvas.y -= _HEADING * LEADING
    canvas.text(LEFT, canvas.y, heading, _HEADING)
    canvas.y -= 4
    for row in table_rows:
        continued = False
        while True:
            value_w = WIDE_W if len(row) == 1 else HALF_W
            suffix = "（续）" if continued else ""
            labels = [wrap(label + suffix, LABEL_W - 2 * _PAD_X, SIZE) for label, _ in row]
            values = [lines for _, lines in row]
            if _cell_height(max(map(len, labels + values))) <= canvas.room:
                _draw_row(canvas, labels, values, value_w)
                break
            fit = math.floor((canvas.room - _cell_height(1)) / (SIZE * LEADING)) + 1
            if canvas.y == TOP or fit >= max(*map(len, labels), 3):
                _draw_row(canvas, labels, [lines[:fit] for lines in values], value_w)
                row = [(label, lines[fit:] or [""]) for label, lines in row]
                continued = True
            canvas.new_page()
    canvas.y -= 8


def _draw_row(
    canvas: Canvas, labels: list[list[str]], values: list[list[str]], value_w: float
) -> None:
    height = _cell_height(max(map(len, labels + values)))
    top, x = canvas.y, LEFT
    for label_lines, value_lines in zip(labels, values, strict=True):
        for width, lines, shaded in ((LABEL_W, label_lines, True), (value_w, value_lines, False)):
            box = b"%.2f %.2f %.2f %.2f re" % (x, top - height, width, height)
            fill = b"0.94 g %s f " % box if shaded else b""
            canvas.draw(b"q %s%s %s S Q" % (fill, _GRID, box))
            baseline = top - _PAD_Y - _ASCENT * SIZE
            for n, line in enumerate(lines):
                canvas.text(x + _PAD_X, baseline - n * SIZE * LEADING, line, SIZE)
            x += width
    canvas.y = top - height


@dataclass(frozen=True)
class Party:
    """One signature block: its heading, the party's name, and the names of its spots (a name
    ending in ``_seal`` gets a seal square, any other a signature box)."""

    heading: str
    name: str
    spot: str
    date_spot: str


def signature_blocks(canvas: Canvas, parties: Sequence[Party]) -> dict[str, Spot]:
    """The parties' blocks side by side under the text, never split: on a new page when they
    do not fit. Returns the spots (page index, rectangle)."""
    column = WIDTH / len(parties)
    names = [wrap(party.name, column - 2 * _PAD_X, SIZE) for party in parties]
    name_h = max(map(len, names)) * SIZE * LEADING
    head_h = _PARTY_HEADING * LEADING
    body_h = head_h + name_h + 8 + SEAL_SIZE + 10 + DATE_SIZE[1] + 4
    if canvas.room < 16 + body_h:
        canvas.new_page()
        if canvas.room < 16 + body_h:  # names so long that no page holds the blocks
            raise PageLimitError
    page = len(canvas.pages) - 1
    top = canvas.y - 16
    spots: dict[str, Spot] = {}
    for i, (party, lines) in enumerate(zip(parties, names, strict=True)):
        x = LEFT + i * column
        canvas.text(x + _PAD_X, top - _ASCENT * _PARTY_HEADING, party.heading, _PARTY_HEADING)
        for n, line in enumerate(lines):
            baseline = top - head_h - _ASCENT * SIZE - n * SIZE * LEADING
            canvas.text(x + _PAD_X, baseline, line, SIZE)
        seal_top = top - head_h - name_h - 8
        width, height = (SEAL_SIZE, SEAL_SIZE) if party.spot.endswith("_seal") else SIGNATURE_SIZE
        left, bottom = x + (column - width) / 2, seal_top - (SEAL_SIZE + height) / 2
        spots[party.spot] = (page, _box(left, bottom, width, height))
        date_top = seal_top - SEAL_SIZE - 10
        label = "日期："
        canvas.text(x + _PAD_X, date_top - DATE_SIZE[1] / 2 - 0.38 * SIZE, label, SIZE)
        date_x = x + _PAD_X + text_width(label, SIZE) + 2
        spots[party.date_spot] = (page, _box(date_x, date_top - DATE_SIZE[1], *DATE_SIZE))
        rule_y = date_top - DATE_SIZE[1] - 2
        canvas.draw(
            b"q %s %.2f %.2f m %.2f %.2f l S Q"
            % (_GRID, date_x, rule_y, date_x + DATE_SIZE[0], rule_y)
        )
    canvas.y = top - body_h
    return spots


def _box(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
    return (round(x, 2), round(y, 2), round(x + w, 2), round(y + h, 2))


def write_pdf(canvas: Canvas, *, title: str, footer: str) -> bytes:
    """The pages with a footer (``footer``, then 第 i 页 共 n 页; ``footer`` is left out when
    it does not fit), the font subset embedded once, saved deterministically."""
    count = len(canvas.pages)
    for index, ops in enumerate(canvas.pages):
        pages = f"第 {index + 1} 页 共 {count} 页"
        text = f"{footer}　{pages}" if footer else pages
        if text_width(text, _FOOTER) > WIDTH:
            text = pages
        ops.append((LEFT + (WIDTH - text_width(text, _FOOTER)) / 2, BOTTOM / 2, _FOOTER, text))
    used = {ch for ops in canvas.pages for op in ops if isinstance(op, tuple) for ch in op[3]}
    font = cjkfont.subset_cjk_font("".join(sorted(used)))
    if not used <= font.cids.keys():
        raise ConfigurationError("the CJK font subset lacks characters the full font has")
    pdf = pikepdf.new()
    fonts = pikepdf.Dictionary(F1=cjkfont.embed_cjk_font(pdf, font))
    resources = pdf.make_indirect(pikepdf.Dictionary(Font=fonts))
    for ops in canvas.pages:
        content = [b"0 g"]
        for op in ops:
            if isinstance(op, bytes):
                content.append(op)
            else:
                x, y, size, text = op
                content.append(
                    b"BT /F1 %.2f Tf %.2f %.2f Td %s Tj ET" % (size, x, y, font.encode(text))
                )
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, *PAGE_SIZE],
            Resources=resources,
            Contents=pdf.make_stream(b"\n".join(content)),
        )
        pdf.pages.append(pikepdf.Page(page))
    pdf.docinfo.Title = title
    pdf.docinfo.Producer = "Qianshu"
    return save_pdf(pdf)
