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
"""

from __future__ import annotations

from typing import Any

from asn1crypto import cms
from asn1crypto.core import Asn1Value


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
