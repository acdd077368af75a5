"""Structural checks the verifier makes beyond pyHanko's signature validation.

Each guards against a way of showing readers content that the signatures do not cover, or
reads something the other checks need:

* :func:`tail_is_single_trailer` — bytes hidden between the last cross-reference section and
  a repeated ``startxref … %%EOF``. "Last" is the section that ends last in the file: in a
  linearized file the newest ``startxref`` points to the first-page section at the start of
  the file, and the main section at the end is the one the tail follows;
* :func:`shadowed_objects` — with the lenient reader, objects redefined later in the file than
  the definition the cross-reference data points to (repairing viewers show the later one);
* :func:`hybrid_conflicts` — in hybrid-reference files, objects that the classic table and
  the ``/XRefStm`` stream place differently (readers that ignore the stream see others);
* :func:`revision_ends` — where each revision's bytes end (a prefix of the file is the
  document as it was at that revision);
* :func:`field_states` / :func:`changed_fields` — which form fields really changed value or
  appearance between two revisions (pyHanko reports the fields that were *allowed* to change);
* :class:`DssMaterial` — the certificates, OCSP responses and CRLs in the document security
  store of a revision, read leniently (an unreadable entry is skipped, never fatal).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from qianshu.signing.validation_memo import shared

_OBJ_HEADER = re.compile(
    rb"(?<![0-9])(\d{1,10})[\x00\t\n\f\r ]+(\d{1,5})[\x00\t\n\f\r ]+obj(?![A-Za-z])"
)
_EOF = re.compile(rb"%%EOF[\r\n]{0,2}")
MAX_DEPTH = 20
MAX_FIELDS = 5000


def deref(obj: Any) -> Any:
    """The object behind an indirect reference (anything else unchanged)."""
    return obj.get_object() if isinstance(obj, generic.IndirectObject) else obj


def get(dictionary: Any, key: str, default: Any = None) -> Any:
    """``dictionary[key]`` dereferenced, or ``default``; never raises on odd input.

    ``dict.get`` on a pyHanko dictionary returns indirect references as they are (an
    indirect ``/Kids`` array is then not iterable); this always dereferences.
    """
    if not isinstance(dictionary, generic.DictionaryObject):
        return default
    try:
        return deref(dictionary.raw_get(key))
    except (KeyError, AttributeError):
        return default


def _section_ends(reader: PdfFileReader) -> list[int]:
    xrefs = reader.xrefs
    return [xrefs.get_xref_container_info(i).end_location for i in range(xrefs.total_revisions)]


def tail_is_single_trailer(reader: PdfFileReader, data: bytes) -> bool:
    """After the cross-reference section that ends last: one ``startxref``, one ``%%EOF``."""
    tail = data[max(_section_ends(reader)) :]
    return tail.count(b"startxref") == 1 and tail.count(b"%%EOF") == 1


def revision_ends(reader: PdfFileReader, data: bytes) -> list[int]:
    """For each revision, the offset just after its ``%%EOF``: ``data[:end]`` is that revision.

    A revision's section may lie before an older one (a linearized file's first-page
    section): each end is at least the previous revision's end.
    """
    ends: list[int] = []
    for section_end in _section_ends(reader):
        match = _EOF.search(data, section_end)
        end = match.end() if match else len(data)
        ends.append(max(end, ends[-1] if ends else 0))
    return ends


def shadowed_objects(reader: PdfFileReader, data: bytes) -> list[int]:
    """Object numbers defined again after the offset the cross-reference data gives for them.

    Objects the data places in an object stream, or marks free, are not shadowed by an
    earlier stray definition; a definition later in the file than the one in use is.
    """
    last: dict[int, tuple[int, int]] = {}
    for match in _OBJ_HEADER.finditer(data):
        last[int(match.group(1))] = (match.start(), int(match.group(2)))
    shadowed = []
    for number, (position, generation) in sorted(last.items()):
        try:
            location = reader.xrefs[generic.Reference(number, generation)]
        except KeyError:
            location = None
        if isinstance(location, int) and location + 32 < position:
            shadowed.append(number)
        elif location is None and not _freed(reader, number):
            shadowed.append(number)
    return shadowed


def _freed(reader: PdfFileReader, number: int) -> bool:
    xrefs = reader.xrefs
    return any(number in xrefs.get_xref_data(i).freed for i in range(xrefs.total_revisions))


def hybrid_conflicts(reader: PdfFileReader) -> list[int]:
    """Objects a hybrid section's classic table and its ``/XRefStm`` stream both define
    differently (in any revision)."""
    conflicts: list[int] = []
    xrefs = reader.xrefs
    for i in range(xrefs.total_revisions):
        section = xrefs.get_xref_data(i)
        if section.hybrid is None:
            continue
        stream = section.hybrid.xref_data
        for number, (generation, offset) in section.standard_xrefs.items():
            other = stream.standard_xrefs.get(number)
            if (other is not None and other != (generation, offset)) or (
                number in stream.xrefs_in_objstm
            ):
                conflicts.append(number)
    return sorted(set(conflicts))


def still_used(handler: Any, refs: set[tuple[int, int]], limit: int = 200_000) -> set[int]:
    """Which of ``refs`` (freed objects) the document of ``handler`` still refers to.

    Walks everything reachable from the trailer without dereferencing the freed objects
    themselves (a strict reader refuses to).
    """
    found: set[int] = set()
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [handler.trailer_view]
    while stack and len(seen) < limit:
        obj = stack.pop()
        if isinstance(obj, generic.IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in refs:
                found.add(obj.idnum)
                continue
            if key in seen:
                continue
            seen.add(key)
            obj = obj.get_object()
        if isinstance(obj, generic.DictionaryObject):
            stack.extend(obj.raw_get(k) for k in obj)
        elif isinstance(obj, generic.ArrayObject):
            stack.extend(obj.raw_get(i) for i in range(len(obj)))
    return found


# --- form fields ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldNode:
    """A terminal form field: its full name, type, dictionary and widget annotations."""

    name: str
    field_type: str
    ref: Any  # generic.Reference | None
    field: Any  # generic.DictionaryObject
    widgets: tuple[Any, ...]  # (reference | None, dictionary)


def iter_fields(root: Any) -> Iterator[FieldNode]:
    """Every terminal field of the AcroForm, following indirect /Kids, bounded in size."""
    fields = get(get(root, "/AcroForm"), "/Fields")
    if not isinstance(fields, list):
        return
    seen: set[tuple[int, int]] = set()
    count = 0

    def walk(items: Any, prefix: str, inherited: str, depth: int) -> Iterator[FieldNode]:
        nonlocal count
        if depth > MAX_DEPTH or not isinstance(items, list):
            return
        for item in items:
            if count >= MAX_FIELDS:
                return
            ref = item.reference if isinstance(item, generic.IndirectObject) else None
            if ref is not None:
                if (ref.idnum, ref.generation) in seen:
                    continue
                seen.add((ref.idnum, ref.generation))
            node = deref(item)
            if not isinstance(node, dict):
                continue
            count += 1
            partial = get(node, "/T")
            name = prefix + (str(partial) if partial is not None else "")
            field_type = str(get(node, "/FT") or inherited)
            kids = get(node, "/Kids")
            if isinstance(kids, list) and any("/T" in (deref(k) or {}) for k in kids):
                yield from walk(kids, name + ".", field_type, depth + 1)
                continue
            widgets: list[tuple[Any, Any]] = []
            if isinstance(kids, list):
                for kid in kids:
                    kid_ref = kid.reference if isinstance(kid, generic.IndirectObject) else None
                    widgets.append((kid_ref, deref(kid)))
            elif get(node, "/Subtype") == "/Widget" or "/Rect" in node:
                widgets.append((ref, node))
            yield FieldNode(name, field_type, ref, node, tuple(widgets))

    yield from walk(fields, "", "", 0)


def _normalise(obj: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        return "..."
    obj = deref(obj)
    if isinstance(obj, generic.StreamObject):
        return ("stream", obj.encoded_data, _normalise(dict(obj.items()), depth + 1))
    if isinstance(obj, dict):
        return tuple(
            sorted(
                (str(k), _normalise(v, depth + 1))
                for k, v in obj.items()
                if k not in ("/P", "/Parent")
            )
        )
    if isinstance(obj, list):
        return tuple(_normalise(v, depth + 1) for v in obj)
    return repr(obj)


def field_states(root: Any, names: Collection[str] | None = None) -> dict[str, tuple[Any, Any]]:
    """Fully qualified name → (value, appearance) of every terminal form field (of those in
    ``names`` only, when given)."""
    out: dict[str, tuple[Any, Any]] = {}
    for node in iter_fields(root):
        if names is not None and node.name not in names:
            continue
        appearances = tuple(_normalise(get(w, "/AP")) for _, w in node.widgets)
        out[node.name] = (_normalise(get(node.field, "/V")), appearances)
    return out


def changed_fields(
    before: dict[str, tuple[Any, Any]], after: dict[str, tuple[Any, Any]]
) -> set[str]:
    """Names of fields added, removed, or with another value or appearance."""
    names = set(before) | set(after)
    return {n for n in names if before.get(n) != after.get(n)}


# --- the document security store --------------------------------------------------------------


_DSS_ENTRIES: dict[str, tuple[Any, str]] = {
    "/Certs": (asn1_x509.Certificate.load, "signature_algorithm"),
    "/OCSPs": (asn1_ocsp.OCSPResponse.load, "response_status"),
    "/CRLs": (asn1_crl.CertificateList.load, "signature_algorithm"),
}


@dataclass(frozen=True)
class DssMaterial:
    """Validation material embedded in the document security store."""

    certs: tuple[asn1_x509.Certificate, ...] = ()
    ocsps: tuple[asn1_ocsp.OCSPResponse, ...] = ()
    crls: tuple[asn1_crl.CertificateList, ...] = ()

    @classmethod
    def read(cls, handler: Any) -> DssMaterial:
        """The DSS of a reader (or of a historical revision of it): each entry parsed lazily,
        an unreadable one skipped."""
        dss = get(handler.root, "/DSS")
        found: dict[str, list[Any]] = {key: [] for key in _DSS_ENTRIES}
        for key, (load, probe) in _DSS_ENTRIES.items():
            entries = get(dss, key)
            for raw in entries if isinstance(entries, generic.ArrayObject) else ():
                try:
                    item = load(deref(raw).data)
                    _ = item[probe].native  # the outer structure must parse
                    item = shared(item)
                except Exception:  # noqa: BLE001, S112 - skip an unreadable entry, keep the rest
                    continue
                found[key].append(item)
        return cls(tuple(found["/Certs"]), tuple(found["/OCSPs"]), tuple(found["/CRLs"]))

    def __bool__(self) -> bool:
        return bool(self.certs or self.ocsps or self.crls)

    def minus(self, other: DssMaterial) -> DssMaterial:
        """What this material holds that ``other`` does not (compared by encoding)."""
        known = {item.dump() for item in (*other.certs, *other.ocsps, *other.crls)}
        return DssMaterial(
            tuple(c for c in self.certs if c.dump() not in known),
            tuple(o for o in self.ocsps if o.dump() not in known),
            tuple(c for c in self.crls if c.dump() not in known),
        )

    def describe(self) -> str:
        parts = [
            (len(self.certs), "certificate"),
            (len(self.ocsps), "OCSP response"),
            (len(self.crls), "CRL"),
        ]
        return ", ".join(f"{n} {word}{'s' if n != 1 else ''}" for n, word in parts if n)
