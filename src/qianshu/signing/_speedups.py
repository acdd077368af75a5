"""Faster drop-ins for library routines on the verification hot path.

* pyHanko reads hex strings one byte at a time through a generator. Every signature's
  /Contents is a hex string of several kilobytes, so on our documents this single routine was
  about a quarter of verification time. The replacement reads in blocks and decodes with
  ``binascii``; anything unusual (a comment inside the string, a missing ``>``, a stray
  character) falls back to pyHanko's own implementation, so accepted inputs and error
  behaviour stay the same.
* pyHanko's tokenizer reads names and skips whitespace one byte at a time through
  generators; a dictionary key costs a dozen Python calls per character, and reading the
  objects of a many-revision document was a fifth of verification time. The replacements
  read a small block and find the end with a regular expression: a name's bytes end at the
  first whitespace or delimiter (the stream left on it, as pyHanko leaves it), a name without
  ``#`` escapes made of printable ASCII decodes to itself, and the next token after plain
  whitespace is the first other byte. A comment (``%``), an escape, a byte outside printable
  ASCII or the end of the data goes to pyHanko's own routine, from the same position.
* pyHanko's view of an older revision copies every object it hands out, recursively, so that
  references inside resolve in that revision; each copy made a new container reference for
  every nested value. The replacement makes one per containing object and returns the
  immutable primitives (numbers, names, strings, booleans, null) as they are, as pyHanko
  does; any other type (encrypted objects, metadata streams, …) is copied by pyHanko's own
  routine.
* pyHanko reads an object again for every older revision that asks for it (it never caches
  historical reads), so the object a signature field had before five later signatures was
  parsed five times. What an object reads to is a function of where it is stored (its offset,
  or its place in an object stream, which pyHanko reads from the current revision either way)
  and of how it is read (``as_metadata_stream``): an unencrypted reader keeps its historical
  reads by reference and location. Each revision's view copies what it is given (pyHanko's
  ``_subsume_object``), so no caller holds the cached object itself; a location that is
  missing (pyHanko logs and substitutes null, or raises in strict mode) is not kept.
* Where an object is stored in a revision, and in which revision it was last written or first
  written, pyHanko finds by trying each cross-reference section in turn, for every object it
  reads (a tenth of verification time went to these searches). The sections of a reader do
  not change once read, so the answers are kept per reader, by reference, revision and number
  of sections; a search that fails (``KeyError``) fails again without searching.
* asn1crypto compares distinguished names attribute by attribute after RFC 4518 string
  preparation, recomputed on every comparison; certificate path building and CMS checks
  compare the same few names thousands of times per document (a fifth of verification
  time). The prepared values of a relative distinguished name are a pure function of its DER
  encoding, so they are memoised by that encoding (bounded); results are identical. For the
  same reason the result of comparing two names is memoised by the pair of encodings (a
  comparison that raises is not kept), and a name's ``hashable`` form (the key of every
  certificate registry lookup) by its encoding.
"""

from __future__ import annotations

import binascii
import re
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.pdf_utils.xref import XRefCache

_original = generic.read_hex_string_from_stream
_WS = re.compile(b"[" + re.escape(misc.PDF_WHITESPACE) + b"]")
_HEX_ONLY = re.compile(rb"[0-9a-fA-F]*")
_BLOCK = 16384


def read_hex_string_from_stream(stream: Any) -> Any:
    start = stream.tell()
    stream.read(1)  # the opening "<"
    chunks = []
    while True:
        block = stream.read(_BLOCK)
        if not block:
            break
        end = block.find(b">")
        if end >= 0:
            chunks.append(block[:end])
            stream.seek(end + 1 - len(block), 1)
            digits = _WS.sub(b"", b"".join(chunks))
            if _HEX_ONLY.fullmatch(digits):
                if len(digits) % 2:
                    digits += b"0"
                return generic.pdf_string(binascii.unhexlify(digits))
            break
        chunks.append(block)
    stream.seek(start)
    return _original(stream)


_NAME_END = re.compile(b"[" + re.escape(misc.PDF_WHITESPACE + misc.PDF_DELIMITERS) + b"]")
_PLAIN_NAME = re.compile(rb"[\x21\x22\x24-\x7e]*")  # printable ASCII without "#"
_LEADING_WS = re.compile(b"[" + re.escape(misc.PDF_WHITESPACE) + b"]*")
_original_decode_name = generic._decode_name
_original_read_non_whitespace = misc.read_non_whitespace
_original_read_until_delimiter = misc.read_until_delimiter
_TOKEN_BLOCK = 64


def read_until_delimiter(stream: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        block = stream.read(_TOKEN_BLOCK)
        if not block:  # the end of the data: everything read, the stream stays at the end
            return b"".join(chunks)
        end = _NAME_END.search(block)
        if end is not None:
            chunks.append(block[: end.start()])
            stream.seek(end.start() - len(block), 1)  # on the delimiter
            return b"".join(chunks)
        chunks.append(block)


def decode_name(name_bytes: bytes) -> Any:
    if _PLAIN_NAME.fullmatch(name_bytes):
        return generic.NameObject("/" + name_bytes.decode("ascii"))
    return _original_decode_name(name_bytes)


def read_non_whitespace(stream: Any, seek_back: bool = False, allow_eof: bool = False) -> Any:
    start = stream.tell()
    block = stream.read(_TOKEN_BLOCK)
    skip = _LEADING_WS.match(block).end()  # type: ignore[union-attr]
    if skip < len(block) and block[skip] != 0x25:  # not "%": no comment to skip
        stream.seek(start + skip + (0 if seek_back else 1))
        return block[skip : skip + 1]
    stream.seek(start)
    return _original_read_non_whitespace(stream, seek_back=seek_back, allow_eof=allow_eof)


_original_subsume = HistoricalResolver._subsume_object
_PRIMITIVES = frozenset(
    {
        generic.NumberObject,
        generic.FloatObject,
        generic.NameObject,
        generic.BooleanObject,
        generic.NullObject,
        generic.TextStringObject,
        generic.ByteStringObject,
    }
)


class _Unusual(Exception):
    pass


def subsume_object(self: HistoricalResolver, obj: Any) -> Any:
    made: dict[tuple[int, int], generic.Reference] = {}

    def container(value: Any) -> generic.Reference:
        ref = value.container_ref
        if type(ref) is not generic.Reference:
            raise _Unusual  # missing or a trailer: pyHanko decides
        key = (ref.idnum, ref.generation)
        found = made.get(key)
        if found is None:
            found = made[key] = generic.Reference(ref.idnum, ref.generation, self)
        return found

    def copy(value: Any) -> Any:
        kind = type(value)
        if kind in _PRIMITIVES or kind is generic.IndirectObject:
            if type(value.container_ref) is not generic.Reference:
                raise _Unusual  # pyHanko's routine decides
            if kind in _PRIMITIVES:
                return value
            return generic.IndirectObject(value.idnum, value.generation, self)
        result: Any
        if kind is generic.DictionaryObject:
            result = generic.DictionaryObject({k: copy(v) for k, v in value.items()})
        elif kind is generic.StreamObject:
            result = generic.StreamObject(
                {k: copy(v) for k, v in value.items()}, encoded_data=value.encoded_data
            )
        elif kind is generic.ArrayObject:
            result = generic.ArrayObject([copy(v) for v in value])
        else:
            raise _Unusual
        result.container_ref = container(value)
        return result

    try:
        return copy(obj)
    except _Unusual:
        return _original_subsume(self, obj)


_original_get_object = PdfFileReader.get_object
_HISTORICAL_SIZE = 100_000


def get_object(
    self: PdfFileReader,
    ref: Any,
    revision: int | None = None,
    never_decrypt: bool = False,
    transparent_decrypt: bool = True,
    as_metadata_stream: bool = False,
) -> Any:
    if revision is None or self.encrypted:
        return _original_get_object(
            self, ref, revision, never_decrypt, transparent_decrypt, as_metadata_stream
        )
    marker = self.xrefs.get_historical_ref(ref, revision)
    if marker is None:
        return _original_get_object(
            self, ref, revision, never_decrypt, transparent_decrypt, as_metadata_stream
        )
    cache: dict[tuple[Any, ...], Any] | None = self.__dict__.get("_qianshu_historical")
    if cache is None:
        cache = self.__dict__["_qianshu_historical"] = {}
    key = (ref.idnum, ref.generation, marker, as_metadata_stream)
    found = cache.get(key)
    if found is None:
        found = _original_get_object(
            self, ref, revision, never_decrypt, transparent_decrypt, as_metadata_stream
        )
        if len(cache) < _HISTORICAL_SIZE:
            cache[key] = found
    return found


_original_get_last_change = XRefCache.get_last_change
_original_get_introducing_revision = XRefCache.get_introducing_revision
_original_get_historical_ref = XRefCache.get_historical_ref
_NOT_FOUND = object()


def _xref_memo(xrefs: XRefCache) -> dict[tuple[Any, ...], Any]:
    memo: dict[tuple[Any, ...], Any] | None = xrefs.__dict__.get("_qianshu_memo")
    if memo is None or len(memo) > _HISTORICAL_SIZE:
        memo = xrefs.__dict__["_qianshu_memo"] = {}
    return memo


def _remembered(xrefs: XRefCache, key: tuple[Any, ...], search: Any, ref: Any) -> Any:
    memo = _xref_memo(xrefs)
    key = (*key, ref.idnum, ref.generation, xrefs.total_revisions)
    found = memo.get(key)
    if found is None:
        try:
            found = search()
        except KeyError:
            found = _NOT_FOUND
        memo[key] = found
    if found is _NOT_FOUND:
        raise KeyError(ref)
    return found


def get_last_change(self: XRefCache, ref: Any) -> Any:
    return _remembered(self, ("last",), lambda: _original_get_last_change(self, ref), ref)


def get_introducing_revision(self: XRefCache, ref: Any) -> Any:
    return _remembered(self, ("first",), lambda: _original_get_introducing_revision(self, ref), ref)


def get_historical_ref(self: XRefCache, ref: Any, revision: int) -> Any:
    memo = _xref_memo(self)
    key = ("at", revision, ref.idnum, ref.generation, self.total_revisions)
    found = memo.get(key, _NOT_FOUND)
    if found is _NOT_FOUND:
        found = memo[key] = _original_get_historical_ref(self, ref, revision)
    return found


_original_rdn_values = asn1_x509.RelativeDistinguishedName._get_values
_RDN_CACHE: dict[bytes, Any] = {}
_RDN_CACHE_SIZE = 4096


def _rdn_values(self: Any, rdn: Any) -> Any:
    key = rdn.dump()
    values = _RDN_CACHE.get(key)
    if values is None:
        if len(_RDN_CACHE) >= _RDN_CACHE_SIZE:
            _RDN_CACHE.clear()
        values = _RDN_CACHE[key] = _original_rdn_values(self, rdn)
    return values


_original_name_eq = asn1_x509.Name.__eq__
_NAME_EQ_CACHE: dict[tuple[bytes, bytes], bool] = {}


def _name_eq(self: Any, other: Any) -> Any:
    if not isinstance(other, asn1_x509.Name):
        return False
    key = (self.dump(), other.dump())
    equal = _NAME_EQ_CACHE.get(key)
    if equal is None:
        if len(_NAME_EQ_CACHE) >= _RDN_CACHE_SIZE:
            _NAME_EQ_CACHE.clear()
        equal = _NAME_EQ_CACHE[key] = bool(_original_name_eq(self, other))
    return equal


_original_name_hashable = asn1_x509.Name.hashable.fget
_NAME_HASHABLE_CACHE: dict[bytes, str] = {}


def _name_hashable(self: Any) -> Any:
    key = self.dump()
    found = _NAME_HASHABLE_CACHE.get(key)
    if found is None:
        if len(_NAME_HASHABLE_CACHE) >= _RDN_CACHE_SIZE:
            _NAME_HASHABLE_CACHE.clear()
        found = _NAME_HASHABLE_CACHE[key] = _original_name_hashable(self)
    return found


def install() -> None:
    """Swap in the fast routines (idempotent)."""
    generic.read_hex_string_from_stream = read_hex_string_from_stream
    PdfFileReader.get_object = get_object  # type: ignore[method-assign]
    XRefCache.get_last_change = get_last_change  # type: ignore[method-assign]
    XRefCache.get_introducing_revision = get_introducing_revision  # type: ignore[method-assign]
    XRefCache.get_historical_ref = get_historical_ref  # type: ignore[method-assign]
    HistoricalResolver._subsume_object = subsume_object  # type: ignore[method-assign]
    generic.read_until_delimiter = read_until_delimiter
    misc.read_until_delimiter = read_until_delimiter
    generic._decode_name = decode_name
    generic.read_non_whitespace = read_non_whitespace
    misc.read_non_whitespace = read_non_whitespace
    asn1_x509.RelativeDistinguishedName._get_values = _rdn_values
    asn1_x509.Name.__eq__ = _name_eq
    asn1_x509.Name.hashable = property(_name_hashable)
