"""What each later revision adds to the page: fields, widgets, signatures, appearances.

pyHanko's difference analysis answers "is this change allowed by the PDF rules for that
signature?" — and filling in a form, adding a signature field or a new signature is allowed
by those rules. Some changes are nonetheless unacceptable on a signed contract; this module
finds them:

1. **Anything added after completion** (fails the document). A document is *completed* at
   the first revision whose signature or document time-stamp locks it: its field carries a
   ``/Lock`` with ``/Action /All`` (or a PDF 2.0 ``/P 1``), or its signature a FieldMDP
   reference locking all fields or a DocMDP reference with ``/P 1``. After that revision only
   validation data (DSS/VRI updates, freed objects) and further document time-stamps (archive
   renewal: a new time-stamp field with an invisible widget) may follow; any other field,
   widget or signature added later is ``added_after_completion``. Our platform's final
   signature or document time-stamp carries such a lock.
   A document without a lock is still *time-stamped as complete* at the first document
   time-stamp that follows a signature and leaves no empty signature field. PAdES allows
   more signatures after that (one party's archive time-stamp, then the next signer; our own
   seal-use flow seals a sealed document again), so additions after it are reported, as
   ``added_after_timestamp``, without failing the document.
2. **New appearances over page content.** After the first signature (or document
   time-stamp), a widget whose appearance is new or changed in a revision — a new signature
   field's stamp, a moved field — is measured against the page content as it was before
   that revision (text, images, earlier stamps), on rendered pixels
   (:mod:`qianshu.signing.overlap`). An appearance that *hides* content (an opaque patch over
   the printed amount) fails the document: ``covers_page_content``. One that only *draws
   over* it (a signature's ink through a printed label, a seal stamped over a company name —
   what signers placing their own fields do) is reported, ``draws_over_page_content``,
   without failing the document. A field that already existed, with the same rectangle on
   the same page, in the revision of the first signature is exempt: every signer saw that
   box, and filling it is what it is for.
3. A signature field's appearance changed after it was signed: ``signature_repainted``
   (fails the document).
4. A signature field's value replaced or removed after it was signed: ``signature_replaced``
   (fails the document). The signature that was there no longer counts, and the one now
   there may carry the same appearance.

Revisions are numbered as pyHanko numbers them: 0 is the original file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING, Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from qianshu.signing.structure import MAX_DEPTH, deref, get, iter_fields

if TYPE_CHECKING:
    from qianshu.signing.overlap import Coverage
from qianshu.signing.verdicts import INVALID, VALID, ChangeReport

_HIDDEN_FLAGS = 2 | 32  # annotation flags Hidden, NoView
_MAX_PAGES = 10_000
_MAX_ANNOTS = 5000

Rect = tuple[float, float, float, float]


@dataclass(frozen=True)
class Widget:
    key: tuple[int, int]
    field: str
    field_type: str
    page: int | None
    rect: Rect
    appearance: tuple[Any, ...]
    appearance_refs: frozenset[tuple[int, int]]
    hidden: bool


@dataclass(frozen=True)
class Inventory:
    """The form of one revision: widgets by reference, fields by name, signature values."""

    revision: int
    widgets: dict[tuple[int, int], Widget]
    fields: dict[str, str]  # name -> field type
    values: dict[str, str]  # signature field name -> "/Sig" | "/DocTimeStamp" | "other"
    locking: frozenset[str] = frozenset()  # signature fields whose value locks the document
    value_refs: dict[str, tuple[int, int] | None] = dataclass_field(default_factory=dict)

    def empty_signature_fields(self) -> set[str]:
        return {n for n, t in self.fields.items() if t == "/Sig" and n not in self.values}


def _key(ref: Any) -> tuple[int, int] | None:
    if isinstance(ref, generic.IndirectObject | generic.Reference):
        return (ref.idnum, ref.generation)
    return None


def _rect(value: Any) -> Rect:
    try:
        x1, y1, x2, y2 = (float(deref(v)) for v in value)
    except (TypeError, ValueError):
        return (0.0, 0.0, 0.0, 0.0)
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def _appearance(widget: Any) -> tuple[tuple[Any, ...], frozenset[tuple[int, int]]]:
    """What identifies the normal appearance (its objects and state); () when it paints nothing."""
    try:
        raw_ap = widget.raw_get("/AP")
        raw_normal = deref(raw_ap).raw_get("/N")
    except (KeyError, AttributeError):
        return (), frozenset()
    refs = {k for k in (_key(raw_ap), _key(raw_normal)) if k is not None}
    normal = deref(raw_normal)
    if isinstance(normal, generic.StreamObject):
        if not normal.encoded_data.strip():
            return (), frozenset(refs)  # an empty appearance stream paints nothing
        return (("/N", _key(raw_normal) or hash(normal.encoded_data)),), frozenset(refs)
    if not isinstance(normal, dict):
        return (), frozenset(refs)
    parts: list[Any] = []
    for state, value in sorted(normal.items()):
        key = _key(value)
        if key is not None:
            refs.add(key)
        parts.append((str(state), key))
    parts.append(("/AS", str(get(widget, "/AS"))))
    return tuple(parts), frozenset(refs)


def _pages(root: Any) -> list[Any]:
    pages: list[Any] = []

    def walk(node: Any, depth: int) -> None:
        if depth > MAX_DEPTH or len(pages) >= _MAX_PAGES:
            return
        node = deref(node)
        kids = get(node, "/Kids")
        if isinstance(kids, list):
            for kid in kids:
                walk(kid, depth + 1)
        elif isinstance(node, dict):
            pages.append(node)

    walk(get(root, "/Pages"), 0)
    return pages


def inventory(handler: Any, revision: int) -> Inventory:
    """The form of ``handler`` (a reader or a historical revision of it)."""
    root = handler.root
    page_of: dict[tuple[int, int], int] = {}
    annot_widgets: dict[tuple[int, int], Any] = {}
    for index, page in enumerate(_pages(root)):
        annots = get(page, "/Annots")
        if not isinstance(annots, list):
            continue
        for count, raw in enumerate(annots):  # raw items: slicing would dereference
            if count >= _MAX_ANNOTS:
                break
            key = _key(raw)
            annot = deref(raw)
            if key is None or get(annot, "/Subtype") != "/Widget":
                continue
            page_of.setdefault(key, index)
            annot_widgets[key] = annot
    widgets: dict[tuple[int, int], Widget] = {}
    fields: dict[str, str] = {}
    values: dict[str, str] = {}
    locking: set[str] = set()
    value_refs: dict[str, tuple[int, int] | None] = {}
    for node in iter_fields(root):
        fields[node.name] = node.field_type
        if node.field_type == "/Sig" and "/V" in node.field:
            value = get(node.field, "/V")
            kind = get(value, "/Type")
            values[node.name] = str(kind) if kind in ("/Sig", "/DocTimeStamp") else "other"
            value_refs[node.name] = _key(node.field.raw_get("/V"))
            if _locks_everything(node.field, value):
                locking.add(node.name)
        for ref, widget in node.widgets:
            key = _key(ref)
            if key is not None and isinstance(widget, dict):
                widgets[key] = _widget(key, node.name, node.field_type, widget, page_of)
    for key, annot in annot_widgets.items():
        if key not in widgets:  # a widget on a page that no field lists
            widgets[key] = _widget(key, str(get(annot, "/T") or ""), "", annot, page_of)
    return Inventory(revision, widgets, fields, values, frozenset(locking), value_refs)


def _locks_everything(field: Any, value: Any) -> bool:
    """Whether a signature (or time-stamp) value closes the whole document for changes."""
    lock = get(field, "/Lock")
    if get(lock, "/Action") == "/All" or get(lock, "/P") == 1:
        return True
    references = get(value, "/Reference")
    for raw in references if isinstance(references, list) else ():
        reference = deref(raw)
        method, params = get(reference, "/TransformMethod"), get(reference, "/TransformParams")
        if method == "/FieldMDP" and get(params, "/Action") == "/All":
            return True
        if method == "/DocMDP" and get(params, "/P") == 1:
            return True
    return False


def _widget(
    key: tuple[int, int], field: str, field_type: str, widget: Any, page_of: dict
) -> Widget:
    rect = _rect(get(widget, "/Rect") or ())
    flags = get(widget, "/F")
    appearance, refs = _appearance(widget)
    hidden = (
        (isinstance(flags, int) and bool(flags & _HIDDEN_FLAGS))
        or rect[2] - rect[0] < 0.5
        or rect[3] - rect[1] < 0.5
        or not appearance
    )
    return Widget(key, field, field_type, page_of.get(key), rect, appearance, refs, hidden)


def completion_revision(inventories: dict[int, Inventory]) -> int | None:
    """The revision whose signature or time-stamp locked the document (rule 1), or None."""
    for revision in sorted(inventories):
        inv = inventories[revision]
        previous = inventories.get(revision - 1)
        if any(previous is None or name not in previous.values for name in inv.locking):
            return revision
    return None


def timestamped_revision(inventories: dict[int, Inventory]) -> int | None:
    """The first document time-stamp after a signature that leaves no empty signature field."""
    signed_before = False
    for revision in sorted(inventories):
        inv = inventories[revision]
        previous = inventories.get(revision - 1)
        new_values = {
            name: kind
            for name, kind in inv.values.items()
            if previous is None or name not in previous.values
        }
        if signed_before and "/DocTimeStamp" in new_values.values():
            if not inv.empty_signature_fields():
                return revision
        if any(kind == "/Sig" for kind in new_values.values()):
            signed_before = True
    return None


@dataclass(frozen=True)
class Painted:
    """A widget whose appearance must be checked against the page content."""

    revision: int
    widget: Widget


OverlapCheck = Callable[[int, Widget], "Coverage | None"]


def findings(
    inventories: dict[int, Inventory],
    changed_refs: Callable[[int], set[tuple[int, int]]],
    first_signed: int,
    covers_content: OverlapCheck,
) -> list[ChangeReport]:
    """The changes the module docstring forbids, revision by revision.

    ``inventories`` holds every revision from ``first_signed`` on; ``changed_refs(r)`` the
    objects written in revision ``r``; ``covers_content(r, widget)`` describes the page
    content that ``widget``'s appearance in revision ``r`` paints over (None when nothing).
    """
    reports: list[ChangeReport] = []
    completed = completion_revision(inventories)
    stamped = timestamped_revision(inventories) if completed is None else None
    baseline = inventories[first_signed]
    for revision in sorted(r for r in inventories if r > first_signed):
        before, after = inventories[revision - 1], inventories[revision]
        # A widget added after completion is reported as such, and what it paints over is
        # still said below (the report names the hidden text either way).
        if completed is not None and revision > completed:
            reports += _added_later(before, after, completed, locked=True)
        elif stamped is not None and revision > stamped:
            reports += _added_later(before, after, stamped, locked=False)
        reports += _replaced(before, after)
        for widget in _painted(before, after, changed_refs(revision)):
            if widget.hidden or widget.page is None:
                continue
            old = before.widgets.get(widget.key)
            if widget.field_type == "/Sig" and widget.field in before.values and old:
                reports.append(
                    ChangeReport(
                        revision,
                        INVALID,
                        "signature_repainted",
                        f"the appearance of the signature in field {widget.field!r} was "
                        f"changed in revision {revision}, after it was signed",
                        widget.field,
                        widget.page,
                    )
                )
                continue
            declared = baseline.widgets.get(widget.key)
            if declared and (declared.page, declared.rect) == (widget.page, widget.rect):
                continue  # a box every signer saw, filled in where it was declared
            covered = covers_content(revision, widget)
            if covered is None:
                continue
            if covered.hides:
                kind, verdict, verb = "covers_page_content", INVALID, "paints over"
            else:
                kind, verdict, verb = "draws_over_page_content", VALID, "draws over"
            reports.append(
                ChangeReport(
                    revision,
                    verdict,
                    kind,
                    f"field {widget.field!r} added in revision {revision}, after a signature, "
                    f"{verb} the page content on page {widget.page + 1}: {covered.text}",
                    widget.field,
                    widget.page,
                )
            )
    return reports


def _replaced(before: Inventory, after: Inventory) -> list[ChangeReport]:
    """Signature values replaced or removed after they were signed (rule 4)."""
    reports = []
    for name, ref in sorted(before.value_refs.items()):
        if after.value_refs.get(name, ()) == ref:
            continue
        verb = "replaced" if name in after.values else "removed"
        reports.append(
            ChangeReport(
                after.revision,
                INVALID,
                "signature_replaced",
                f"the signature in field {name!r} was {verb} in revision {after.revision}, "
                "after it was signed",
                name,
            )
        )
    return reports


def _painted(
    before: Inventory, after: Inventory, changed: set[tuple[int, int]]
) -> Iterable[Widget]:
    for key, widget in after.widgets.items():
        old = before.widgets.get(key)
        if old is None:
            yield widget
        elif (
            (old.page, old.rect, old.appearance) != (widget.page, widget.rect, widget.appearance)
            or key in changed
            or widget.appearance_refs & changed
        ):
            yield widget


def _added_later(
    before: Inventory,
    after: Inventory,
    closed: int,
    *,
    locked: bool,
) -> list[ChangeReport]:
    """What ``after`` adds beyond validation data and archive time-stamps (rule 1)."""
    revision = after.revision
    archive = {
        name
        for name, kind in after.values.items()
        if kind == "/DocTimeStamp" and name not in before.values
    }
    reports: list[ChangeReport] = []

    def report(what: str, field: str, page: int | None = None) -> None:
        if locked:
            kind, verdict = "added_after_completion", INVALID
            when = f"after the document was completed and locked (revision {closed})"
        else:
            kind, verdict = "added_after_timestamp", VALID
            when = (
                f"after the document time-stamp of revision {closed} (the document carries no "
                "completion lock)"
            )
        reports.append(
            ChangeReport(
                revision,
                verdict,
                kind,
                f"{what} was added in revision {revision}, {when}",
                field,
                page,
            )
        )

    for name in sorted(set(after.fields) - set(before.fields)):
        invisible = all(w.hidden for w in after.widgets.values() if w.field == name)
        if not (name in archive and invisible):
            report(f"field {name!r}", name)
    for name in sorted(set(after.values) - set(before.values)):
        if after.values[name] != "/DocTimeStamp":
            report(f"a signature in field {name!r}", name)
    for key, widget in after.widgets.items():
        if key in before.widgets:
            continue
        if widget.field in archive and widget.hidden:
            continue
        if widget.field not in after.fields or widget.field in before.fields:
            report(f"a widget of field {widget.field!r}", widget.field, widget.page)
    return reports


def inventories(
    reader: PdfFileReader, first: int, *, latest: Any | None = None
) -> dict[int, Inventory]:
    """Inventories of revisions ``first`` … the newest (the newest read from ``latest``)."""
    total = reader.xrefs.total_revisions
    result = {}
    for revision in range(first, total):
        handler = (
            (latest or reader)
            if revision == total - 1
            else reader.get_historical_resolver(revision)
        )
        result[revision] = inventory(handler, revision)
    return result
