"""CMS values that asn1crypto must not re-encode: our SignerInfo and the time-stamp token.

asn1crypto 1.5.1 re-encodes a value on every access to its contents once anything in it counts
as changed, and reads any DER header whose last byte is 0x80 as an indefinite length — also a
definite long-form one such as 3,200 bytes (``30 82 0c 80``) — forcing everything below to be
re-encoded as well. pyHanko assembles a signature's CMS around the SignerInfo and accesses its
parts many times, so a signature whose SignerInfo or unsigned attributes happened to have such a
size took seconds instead of milliseconds to build (issue 11 benchmarks: up to 12 s for some
platform names, also before this module existed), re-encoding the time-stamp token and its
certificates over and over.

* :class:`FrozenContentInfo` holds a time-stamp token exactly as the TSA encoded it: it never
  reports a change and dumps its original encoding.
* :class:`DerSignerInfo` is what our signer hands pyHanko: its dump never forces re-encoding
  (only the header is recomputed, from contents), and the unsigned attributes pyHanko sets in it
  are encoded once, when set, and kept as :class:`DerCMSAttributes` of the same kind.
* :func:`freeze` encodes the CMS pyHanko assembles around them (ContentInfo, SignedData, the
  certificate set) in one pass and hands it back as a :class:`FrozenContentInfo`: a SignedData
  of 4,736 bytes (``30 82 12 80``) made pyHanko's later dump re-encode every certificate in it
  over and over, 8 s per signature (seen in the browser tests, one signer name in a few hundred).
"""

from __future__ import annotations

from typing import Any

from asn1crypto import cms
from asn1crypto.core import Asn1Value, Choice, Sequence, SequenceOf


class FrozenContentInfo(cms.ContentInfo):
    """A ContentInfo loaded from DER and embedded as it is (see the module docstring)."""

    def _is_mutated(self) -> bool:
        return False

    def dump(self, force: bool = False) -> bytes:
        return Asn1Value.dump(self)


class _NoForcedDump:
    def dump(self, force: bool = False) -> bytes:
        self._header = None  # recomputed from contents below, never misread as indefinite
        return Asn1Value.dump(self)


class DerCMSAttributes(_NoForcedDump, cms.CMSAttributes):
    """Unsigned attributes encoded once (see the module docstring)."""


class DerSignerInfo(_NoForcedDump, cms.SignerInfo):
    """A SignerInfo made by our signer (see the module docstring)."""

    def __setitem__(self, key: Any, value: Any) -> None:
        if key == "unsigned_attrs" and isinstance(value, cms.CMSAttributes):
            if not isinstance(value, DerCMSAttributes):
                value = DerCMSAttributes.load(value.untag().dump())
        super().__setitem__(key, value)


def _misread(value: Asn1Value) -> bool:
    """A definite length whose last header byte is 0x80, which asn1crypto takes as indefinite."""
    header = value._header
    if header is None or header[-1:] != b"\x80":
        return False
    return not getattr(value, "_indefinite", False)


def _parts(value: Asn1Value) -> list[Asn1Value]:
    """The values ``value`` is made of that are already built (unparsed ones stay bytes)."""
    if isinstance(value, Choice):
        return [value.chosen] if value._choice is not None else []
    if isinstance(value, Sequence | SequenceOf) and value.children is not None:
        return [c for c in value.children if isinstance(c, Asn1Value)]
    return []


def freeze(content_info: cms.ContentInfo) -> FrozenContentInfo:
    """``content_info`` encoded in one pass, as a value dumped as it is.

    asn1crypto's dump of a changed value reads its contents twice (encoding every part twice,
    at every level) and the second time forces the re-encoding of any part whose header it
    misreads. Here each changed part is encoded once, after its own parts, from parts whose
    misread headers were dropped (recomputed from their contents when dumped), and then counts
    as unchanged; parts left as they were read keep their encoding.
    """
    order: list[Asn1Value] = []
    pending: list[Asn1Value] = [content_info]
    while pending:
        value = pending.pop()
        order.append(value)
        pending.extend(_parts(value))
    changed: set[int] = set()
    for value in reversed(order):  # every part before the value it is part of
        parts = _parts(value)
        for part in parts:
            if _misread(part):
                part._header = None
        if getattr(value, "_mutated", False) or any(id(p) in changed for p in parts):
            changed.add(id(value))
            if isinstance(value, Sequence | SequenceOf):
                value._set_contents()
                value._mutated = False
    if _misread(content_info):
        content_info._header = None
    return FrozenContentInfo.load(content_info.dump())
