"""Faster drop-ins for two library routines on the verification hot path.

* pyHanko reads hex strings one byte at a time through a generator. Every signature's
  /Contents is a hex string of several kilobytes, so on our documents this single routine was
  about a quarter of verification time. The replacement reads in blocks and decodes with
  ``binascii``; anything unusual (a comment inside the string, a missing ``>``, a stray
  character) falls back to pyHanko's own implementation, so accepted inputs and error
  behaviour stay the same.
* asn1crypto compares distinguished names attribute by attribute after RFC 4518 string
  preparation, recomputed on every comparison; certificate path building and CMS checks
  compare the same few names thousands of times per document (a fifth of verification
  time). The prepared values of a relative distinguished name are a pure function of its DER
  encoding, so they are memoised by that encoding (bounded); results are identical. For the
  same reason the result of comparing two names is memoised by the pair of encodings (a
  comparison that raises is not kept).
"""

from __future__ import annotations

import binascii
import re
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic, misc

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


def install() -> None:
    """Swap in the fast routines (idempotent)."""
    generic.read_hex_string_from_stream = read_hex_string_from_stream
    asn1_x509.RelativeDistinguishedName._get_values = _rdn_values
    asn1_x509.Name.__eq__ = _name_eq  # type: ignore[method-assign,assignment]
