"""Every path from the trailer to every object of a revision: pyHanko's result, computed faster.

The difference analysis asks, for each object a revision rewrites, through which paths the
revision before it reached that object (pyHanko's "reverse cross-reference cache",
``HistoricalResolver._load_reverse_xref_cache``). pyHanko builds the paths recursively as
linked lists of frozen dataclasses, hashing each path recursively; for our 9-signature
contract that was a fifth of verification time. :func:`paths_to_objects` computes the same
mapping with an explicit stack and tuples:

* a path is the sequence of dictionary keys and array indexes from the trailer; the trailer
  itself is the empty path;
* an indirect object is recorded with the path that reached it, then entered — unless it
  already occurs on that path (a cycle), unless it is a page tree node reached other than by
  its canonical path through the page tree (``/Root /Pages /Kids i /Kids j …``), and unless it
  is a structure element reached from outside the structure tree;
* ``/Parent`` keys are not followed, nor ``/P`` keys inside the structure tree (entered by
  ``/Root /StructTreeRoot /K``).

Every rule depends only on the path itself (the objects on it, its keys), so the order in
which paths are explored does not change the result; the page and structure tree nodes are
collected in pyHanko's order, with its errors (a cycle in the page tree or the structure tree
is refused). Anything this code does not expect — an encrypted file, a node of an unexpected
type, any exception — falls back to pyHanko's own implementation, which then produces its
own result or error.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.reader import HistoricalResolver, RawPdfPath

Path = tuple[str | int, ...]
_STRUCT_ENTRY: Path = ("/Root", "/StructTreeRoot")

_original = HistoricalResolver._load_reverse_xref_cache


def _page_tree_paths(resolver: HistoricalResolver) -> dict[generic.Reference, Path]:
    """The canonical path of every page tree node, checked for cycles as pyHanko does."""
    raw_pages = resolver.root.raw_get("/Pages")
    root_path: Path = ("/Root", "/Pages")
    found: dict[generic.Reference, Path] = {}
    if isinstance(raw_pages, generic.IndirectObject):
        found[raw_pages.reference] = root_path

    def kids(node: Any, path: Path) -> Iterator[tuple[generic.Reference, Path]]:
        for index, kid in enumerate(node["/Kids"]):
            kid_path = (*path, "/Kids", index)
            if isinstance(kid, generic.IndirectObject):
                yield kid.reference, kid_path
            kid = kid.get_object()
            if kid.get("/Type", None) == "/Pages":
                yield from kids(kid, kid_path)

    for ref, path in kids(raw_pages.get_object(), root_path):
        if ref in found:
            raise misc.PdfReadError("Circular reference in page tree in mapping stage")
        found[ref] = path
    return found


def _struct_elements(resolver: HistoricalResolver) -> set[generic.Reference]:
    """References of the structure elements below /StructTreeRoot (pyHanko's collection:
    pre-order, a missing key ends it)."""

    def elements(node: Any) -> Iterator[generic.Reference]:
        try:
            children = node["/K"]
        except KeyError:
            return
        for child in children if isinstance(children, generic.ArrayObject) else (children,):
            ref = None
            if isinstance(child, generic.IndirectObject):
                ref = child.reference
                child = child.get_object()
            if not isinstance(child, generic.DictionaryObject):
                continue
            try:
                if child["/Type"] != "/StructElem":
                    continue
            except KeyError:
                pass
            if ref is not None:
                yield ref
            yield from elements(child)

    found: set[generic.Reference] = set()
    try:
        struct_root = resolver.root.raw_get("/StructTreeRoot").get_object()
        for ref in elements(struct_root):
            if ref in found:
                raise misc.PdfReadError("Circular reference in structure tree in mapping stage")
            found.add(ref)
    except KeyError:
        pass
    return found


_CONTAINERS = (generic.IndirectObject, generic.DictionaryObject, generic.ArrayObject)


class _Usages(dict[generic.Reference, Any]):
    """Paths by reference, turned into pyHanko's ``RawPdfPath`` sets when first asked for
    (the difference analysis asks about a handful of the hundreds of objects)."""

    def __getitem__(self, ref: generic.Reference) -> set[RawPdfPath]:
        found = super().__getitem__(ref)
        if not isinstance(found, _Converted):
            found = _Converted(RawPdfPath(*path) for path in found)
            self[ref] = found
        return found


class _Converted(set[RawPdfPath]):
    pass


def _reader_objects(resolver: HistoricalResolver) -> Callable[[generic.Reference], Any]:
    """The objects of ``resolver``'s revision as the reader parsed them, without the copy bound
    to the revision that ``resolver(ref)`` makes (the walk only reads their structure, and
    resolves every reference it meets through this function, in the same revision)."""
    cache = resolver.cache
    reader = resolver.reader
    revision = resolver.revision
    last_change = reader.xrefs.get_last_change

    def get(ref: generic.Reference) -> Any:
        found = cache.get(ref)  # already copied for the revision: the same structure
        if found is not None:
            return found
        try:
            last = last_change(ref)
        except KeyError:
            last = None
        # As HistoricalResolver.get_object decides between the shared and the historical read.
        if last is not None and last <= revision:
            return reader.get_object(ref, transparent_decrypt=False)
        return reader.get_object(ref, revision, transparent_decrypt=False)

    return get


def paths_to_objects(resolver: HistoricalResolver) -> dict[generic.Reference, set[RawPdfPath]]:
    """Every path through which ``resolver``'s revision reaches each indirect object."""
    pages = _page_tree_paths(resolver)
    struct = _struct_elements(resolver)
    get = _reader_objects(resolver)
    collected: defaultdict[generic.Reference, set[Path]] = defaultdict(set)
    containers = _CONTAINERS
    # (object, its path, the references on the path, inside the structure tree); only
    # objects that can lead further are put on the stack
    stack: list[tuple[Any, Path, frozenset[generic.Reference], bool]] = [
        (resolver.trailer_view, (), frozenset(), False)
    ]
    while stack:
        obj, path, on_path, in_struct = stack.pop()
        if isinstance(obj, generic.IndirectObject):
            ref = obj.reference
            if ref in on_path:
                continue
            collected[ref].add(path)
            on_path = on_path | {ref}
            obj = get(ref)
            if pages.get(ref, path) != path or (not in_struct and ref in struct):
                continue
        if isinstance(obj, generic.DictionaryObject):
            enters_struct = path == _STRUCT_ENTRY
            for key, value in obj.items():
                if not isinstance(value, containers):
                    continue
                if key == "/Parent" or (in_struct and key == "/P"):
                    continue
                stack.append(
                    (value, (*path, key), on_path, in_struct or (enters_struct and key == "/K"))
                )
        elif isinstance(obj, generic.ArrayObject):
            for index, value in enumerate(obj):
                if isinstance(value, containers):
                    stack.append((value, (*path, index), on_path, in_struct))
    usages = _Usages()
    usages.update(collected)
    return usages


def load_reverse_xref_cache(self: HistoricalResolver) -> None:
    """Drop-in for ``HistoricalResolver._load_reverse_xref_cache`` (module docstring)."""
    if self._indirect_object_access_cache is not None:
        return
    if self.reader.encrypted:
        _original(self)
        return
    try:
        found = paths_to_objects(self)
    except Exception:  # noqa: BLE001 - pyHanko's own code decides, with its own errors
        _original(self)
        return
    self._indirect_object_access_cache = found


def install() -> None:
    HistoricalResolver._load_reverse_xref_cache = load_reverse_xref_cache  # type: ignore[method-assign]
