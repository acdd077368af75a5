"""Structural checks the verifier makes beyond pyHanko's signature validation.

Each guards against a way of showing readers content that the signatures do not cover:

* :func:`tail_is_single_trailer` — bytes hidden between the last cross-reference section and
  a repeated ``startxref … %%EOF``;
* :func:`shadowed_objects` — with the lenient reader, objects redefined later in the file than
  the definition the cross-reference data points to (repairing viewers show the later one);
* :func:`field_states` / :func:`changed_fields` — which form fields really changed value or
  appearance between two revisions (pyHanko reports the fields that were *allowed* to change);
* :class:`DssMaterial` — the certificates, OCSP responses and CRLs in the document security
  store, read leniently (an unreadable entry is skipped, never fatal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore

_OBJ_HEADER = re.compile(
    rb"(?<![0-9])(\d{1,10})[\x00\t\n\f\r ]+(\d{1,5})[\x00\t\n\f\r ]+obj(?![A-Za-z])"
)
_MAX_DEPTH = 20
_MAX_FIELDS = 5000


def tail_is_single_trailer(reader: PdfFileReader, data: bytes) -> bool:
    """After the newest cross-reference section: its trailer, one ``startxref``, one ``%%EOF``."""
    info = reader.xrefs.get_xref_container_info(reader.xrefs.total_revisions - 1)
    tail = data[info.end_location :]
    return tail.count(b"startxref") == 1 and tail.count(b"%%EOF") == 1


def shadowed_objects(reader: PdfFileReader, data: bytes) -> list[int]:
    """Object numbers defined again after the offset the cross-reference data gives for them."""
    last: dict[int, tuple[int, int]] = {}
    for match in _OBJ_HEADER.finditer(data):
        last[int(match.group(1))] = (match.start(), int(match.group(2)))
    shadowed = []
    for number, (position, generation) in sorted(last.items()):
        location = reader.xrefs[generic.Reference(number, generation)]
        if location is None or (isinstance(location, int) and location + 32 < position):
            shadowed.append(number)
    return shadowed


def _normalise(obj: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        return "..."
    if isinstance(obj, generic.IndirectObject):
        obj = obj.get_object()
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


def field_states(root: Any) -> dict[str, tuple[Any, Any]]:
    """Fully qualified name → (value, appearance) of every terminal form field."""
    out: dict[str, tuple[Any, Any]] = {}

    def walk(refs: Any, prefix: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        for ref in refs:
            if len(out) >= _MAX_FIELDS:
                return
            node = ref.get_object()
            name = prefix + str(node.get("/T", ""))
            kids = node.get("/Kids")
            if kids and any("/T" in kid.get_object() for kid in kids):
                walk(kids, name + ".", depth + 1)
            else:
                out[name] = (_normalise(node.get("/V")), _normalise(node.get("/AP")))

    try:
        fields = root["/AcroForm"]["/Fields"]
    except (KeyError, TypeError):
        return out
    walk(fields, "", 0)
    return out


def changed_fields(
    before: dict[str, tuple[Any, Any]], after: dict[str, tuple[Any, Any]]
) -> set[str]:
    """Names of fields added, removed, or with another value or appearance."""
    names = set(before) | set(after)
    return {n for n in names if before.get(n) != after.get(n)}


@dataclass(frozen=True)
class DssMaterial:
    """Validation material embedded in the document security store."""

    certs: tuple[asn1_x509.Certificate, ...] = ()
    ocsps: tuple[asn1_ocsp.OCSPResponse, ...] = ()
    crls: tuple[asn1_crl.CertificateList, ...] = ()

    @classmethod
    def read(cls, reader: PdfFileReader) -> DssMaterial:
        try:
            dss = DocumentSecurityStore.read_dss(reader)
        except Exception:  # noqa: BLE001 - no DSS (or a broken one) means no embedded revinfo
            return cls()
        ocsps, crls = [], []
        for ref in dss.ocsps:
            try:
                ocsps.append(asn1_ocsp.OCSPResponse.load(ref.get_object().data))
            except Exception:  # noqa: BLE001, S112 - skip an unreadable entry, keep the rest
                continue
        for ref in dss.crls:
            try:
                crls.append(asn1_crl.CertificateList.load(ref.get_object().data))
            except Exception:  # noqa: BLE001, S112 - skip an unreadable entry, keep the rest
                continue
        try:
            certs = tuple(dss.load_certs())
        except Exception:  # noqa: BLE001
            certs = ()
        return cls(certs, tuple(ocsps), tuple(crls))

    def covered_serials(self) -> set[int]:
        """Serial numbers with a "good" OCSP answer in the DSS and not on any embedded CRL."""
        serials: set[int] = set()
        for resp in self.ocsps:
            try:
                basic = resp["response_bytes"]["response"].parsed
                for single in basic["tbs_response_data"]["responses"]:
                    if single["cert_status"].name == "good":
                        serials.add(single["cert_id"]["serial_number"].native)
            except Exception:  # noqa: BLE001, S112 - skip an unreadable entry, keep the rest
                continue
        for crl in self.crls:
            try:
                for entry in crl["tbs_cert_list"]["revoked_certificates"] or ():
                    serials.discard(entry["user_certificate"].native)
            except Exception:  # noqa: BLE001, S112 - skip an unreadable entry, keep the rest
                continue
        return serials
