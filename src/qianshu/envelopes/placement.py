"""Where a field goes: one schema for a field's kind, page, box and owner, read from the field
editor's save (发起签署 › 签署位置), from a signer's free placement (指定位置签署) and built by the
void statement (作废声明); later the templates and the open API read the same schema.

The browser places a field in fractions of the displayed page (0–1, origin top-left, see
:mod:`qianshu.envelopes.geometry`); :class:`FieldInput` holds it in PDF points (origin
bottom-left), and :func:`to_points` is the one place that converts the one into the other. A
cross-page seal (骑缝章) is given by its pages and its vertical position on the first of them; it
always sits on the right edge, one strip per page.

Reading is strict: ids and page numbers are JSON integers (not text, not booleans), box values
finite JSON numbers within the page (a little slack for rounding), the kind one of
:class:`qianshu.envelopes.models.Field.Kind`. What is wrong is said with the message the page
that sent it shows (:class:`Source`), as :class:`PlacementError`.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import pydantic
from django.utils.translation import gettext as _

from qianshu.envelopes.geometry import to_pdf
from qianshu.envelopes.models import Document, Field, Recipient
from qianshu.signing.stamps import Rect

Kind = Field.Kind
# The most fields one save or one submission may place (the editor and the signing page).
MAX_FIELDS = 300
# Pages a document may have for a field's page number to be worth looking up.
MAX_PAGE_INDEX = 9999
# Box values are fractions of the page; the browser rounds, so allow a hair beyond the edges.
SLACK = 0.01
MAX_LABEL = 500  # stored cut to 60 characters (compose.check_field); longer is not the editor
MAX_VALUE = 200  # a text field's value is cut to this


class Source(enum.Enum):
    """Who sent the placement: its messages are those that page already shows."""

    EDITOR = "editor"  # the initiator's field editor (JSON save)
    SIGNING = "signing"  # the signer's free placement on the signing page


class PlacementError(Exception):
    """A placement cannot be used; ``str(exc)`` is the message for the user, ``index`` the
    position of the field in what was sent (None: the whole payload)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class FieldInput:
    """A field to store, in PDF points, for :func:`qianshu.envelopes.compose.check_field`."""

    recipient_id: int
    document_id: int
    kind: str
    page: int
    rect: Rect  # PDF points; for a cross-page seal: its vertical position (y1, y2)
    pages: tuple[int, ...] = ()
    label: str = ""
    value: str = ""


Id = Annotated[int, pydantic.Field(strict=True)]
PageIndex = Annotated[int, pydantic.Field(strict=True, ge=0, le=MAX_PAGE_INDEX)]
Fraction = Annotated[
    float, pydantic.Field(strict=True, allow_inf_nan=False, ge=-SLACK, le=1 + SLACK)
]


class FieldPlacement(pydantic.BaseModel):
    """One field as the browser places it: owner (``recipient``, the recipient's id; the signer
    themselves on the signing page), ``document``, ``kind``, ``page`` (from 0), the box
    ``left/top/width/height`` in fractions of the page (origin top-left), ``pages`` of a
    cross-page seal, ``label`` of a text or date field and ``value`` a signer typed."""

    model_config = pydantic.ConfigDict(strict=True, extra="ignore", frozen=True)

    recipient: Id | None = None
    document: Id
    kind: Annotated[Kind, pydantic.Field(strict=False)]
    page: PageIndex | None = None
    pages: Annotated[list[PageIndex], pydantic.Field(max_length=MAX_PAGE_INDEX + 1)] | None = None
    left: Fraction
    top: Fraction
    width: Fraction
    height: Fraction
    label: Annotated[str, pydantic.Field(max_length=MAX_LABEL)] = ""
    value: str | None = None


BOX = ("left", "top", "width", "height")


def _malformed(source: Source) -> str:
    if source is Source.EDITOR:
        return _("数据格式不正确，请刷新页面后重试。")
    return _("提交无效，请刷新页面后重试。")


def _off_page(source: Source) -> str:
    if source is Source.EDITOR:
        return _("签署位置超出了页面范围，或太小。")
    return _("签署位置超出了页面范围，请重新放置。")


def _no_document(source: Source) -> str:
    if source is Source.EDITOR:
        return _("签署位置对应的签署方或文件不存在，请刷新页面。")
    return _("签署位置对应的文件不存在，请刷新页面。")


def _page_out() -> str:
    return _("签署位置的页码超出了文件页数。")


def _kind_refused(item: Mapping[str, Any], recipients: Mapping[int, Recipient]) -> str | None:
    """An unknown kind in the editor, said as for a kind the recipient may not have."""
    owner, kind = item.get("recipient"), item.get("kind")
    recipient = recipients.get(owner) if isinstance(owner, int) else None
    if recipient is None or not isinstance(kind, str):
        return None
    return _("“%(who)s”不能有“%(kind)s”。") % {"who": recipient.name, "kind": kind[:40]}


def _message(
    error: pydantic.ValidationError,
    item: Mapping[str, Any],
    source: Source,
    recipients: Mapping[int, Recipient],
) -> str:
    """The message of the first thing wrong with ``item``."""
    first = error.errors(include_url=False, include_context=False)[0]
    where = first["loc"][0] if first["loc"] else ""
    problem = first["type"]
    if where in BOX:
        if problem in ("finite_number", "greater_than_equal", "less_than_equal"):
            return _off_page(source)
        if source is Source.SIGNING:
            return _("签署位置无效，请重新放置。")
        return _malformed(source)
    if where == "kind" and problem == "enum":
        if source is Source.SIGNING:
            return _no_document(source)
        return _kind_refused(item, recipients) or _malformed(source)
    out_of_range = problem in ("greater_than_equal", "less_than_equal")
    if where == "page" and out_of_range:
        return _page_out()
    if where == "pages":
        if source is Source.SIGNING:
            return _page_out() if out_of_range else _("骑缝章的页码无效。")
        if out_of_range:
            return _("骑缝章的页码超出了文件页数。")
    return _malformed(source)


def read(
    item: object,
    source: Source,
    recipients: Mapping[int, Recipient] | None = None,
) -> FieldPlacement:
    """``item`` (parsed JSON) as a :class:`FieldPlacement`, or :class:`PlacementError`."""
    if not isinstance(item, dict):
        raise PlacementError(_malformed(source))
    try:
        return FieldPlacement.model_validate(item)
    except pydantic.ValidationError as exc:
        raise PlacementError(_message(exc, item, source, recipients or {})) from None


def to_points(
    placement: FieldPlacement, boxes: list[Rect], source: Source
) -> tuple[int, tuple[int, ...], Rect]:
    """The page (the first one of a cross-page seal), the pages of a cross-page seal and the
    field's rectangle in PDF points on that page: the one conversion of the editor's units."""
    p = placement
    if p.kind == Kind.CROSS_PAGE_SEAL:
        if p.pages is None:
            raise PlacementError(
                _("骑缝章的页码无效。") if source is Source.SIGNING else _malformed(source)
            )
        if source is Source.SIGNING and len(p.pages) > len(boxes):
            raise PlacementError(_("骑缝章的页码无效。"))
        pages = tuple(sorted(set(p.pages)))
        if len(pages) < 2:
            raise PlacementError(_("骑缝章至少需要跨两页。"))
        if pages[-1] >= len(boxes):
            if source is Source.SIGNING:
                raise PlacementError(_page_out())
            raise PlacementError(_("骑缝章的页码超出了文件页数。"))
        if not 0 <= p.top <= 1:
            raise PlacementError(_off_page(source))
        box = boxes[pages[0]]
        # Its vertical position and size on the first page; it always sits on the right edge.
        y2 = box.y2 - p.top * box.height
        size = p.height * box.height
        return pages[0], pages, Rect(box.x2 - size / len(pages), y2 - size, box.x2, y2)
    if p.page is None:
        raise PlacementError(_malformed(source))
    if p.page >= len(boxes):
        raise PlacementError(_page_out())
    return p.page, (), to_pdf(boxes[p.page], p.left, p.top, p.width, p.height)


def field_input(
    placement: FieldPlacement, document: Document, recipient_id: int, source: Source
) -> FieldInput:
    """``placement`` on ``document`` for ``recipient_id``, in PDF points."""
    page, pages, rect = to_points(placement, document.boxes(), source)
    return FieldInput(
        recipient_id=recipient_id,
        document_id=document.pk,
        kind=str(placement.kind),
        page=page,
        rect=rect,
        pages=pages,
        label=placement.label,
        value=(placement.value or "")[:MAX_VALUE],
    )


def load_json(body: bytes) -> object:
    """``body`` parsed, or ValueError (bad UTF-8, not JSON, nested beyond the parser)."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from None


def editor_fields(
    body: bytes, documents: Mapping[int, Document], recipients: Mapping[int, Recipient]
) -> list[FieldInput]:
    """The fields of the editor's ``{"fields": [{recipient, document, kind, page, left, top,
    width, height, pages?, label?}, …]}``, or :class:`PlacementError` with the index of the
    field that is wrong. Whether the recipient may have the kind, and whether the box fits
    the page, is :func:`qianshu.envelopes.compose.check_field`'s."""
    source = Source.EDITOR
    try:
        payload = load_json(body)
    except ValueError:
        raise PlacementError(_malformed(source)) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("fields"), list):
        raise PlacementError(_malformed(source))
    items = payload["fields"]
    if len(items) > MAX_FIELDS:
        raise PlacementError(_("签署位置最多 %(n)d 个。") % {"n": MAX_FIELDS})
    out = []
    for index, item in enumerate(items):
        try:
            placement = read(item, source, recipients)
            if placement.recipient is None:
                raise PlacementError(_malformed(source))
            document = documents.get(placement.document)
            if document is None or placement.recipient not in recipients:
                raise PlacementError(_no_document(source))
            field = field_input(placement, document, placement.recipient, source)
            out.append(dataclasses.replace(field, value=""))  # values are the signers' to type
        except PlacementError as exc:
            raise PlacementError(str(exc), index) from None
    return out


def signer_field(item: object, documents: Mapping[int, Document]) -> FieldInput:
    """A placement the signer dragged onto a page (指定位置签署); its owner is the signer, set
    when the turn is known (``recipient_id`` is 0 here)."""
    source = Source.SIGNING
    placement = read(item, source)
    document = documents.get(placement.document)
    if document is None:
        raise PlacementError(_no_document(source))
    return field_input(placement, document, 0, source)
