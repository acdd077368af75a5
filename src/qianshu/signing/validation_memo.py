"""Certificate validation done once per document, not once per signature.

A document's signatures share their certificates: the same issuing CA under every signer, the
same time-stamping authority in every signature time-stamp, the same OCSP responder and CRLs.
pyHanko validates each signature on its own, so the same certificate path, the same OCSP
response and the same certificate signature are checked again for every signature. Within one
document (:func:`document_scope`, around each verification), these are kept:

* **Signature checks that succeeded** (:class:`KnownSignatures`), keyed by the signature, the
  signed bytes, the public key and the algorithm: the check is a pure function of these, so a
  repeated check is answered without the cryptography. A failure is not kept (it is checked
  again, and fails again).
* **Certificates, parsed once.** Every CMS carries its own copies of the signer's chain (the
  issuing CA is in every signature and every time-stamp token), and pyHanko extracts fresh
  copies from a signature's CMS each time it validates it; an object's encoding fully
  determines every field read from it, so within :func:`document_scope` the certificates
  pyHanko extracts from a CMS (``extract_certificate_info``) and the certificates, OCSP
  responses and CRLs read from the DSS are replaced by the first parsed object of the same
  type and encoding (the signer is chosen among those), the extraction from one CMS object is
  done once, and a signing-certificate attribute found to match a certificate (pyHanko checks
  it twice per validation) is not matched again within the document. The parsed objects
  are kept across documents too (:data:`PARSED`, least recently used first out, bounded in
  number and bytes): the documents of one platform carry the same root, issuing CA, TSA and
  OCSP responder certificates and the same CA CRLs, and parsing them (extensions, names, key
  identifiers) was a tenth of verification time. A parsed object holds nothing but what its
  encoding says, so this keeps no verdict: every check below is still made per document.
* **Trust anchors, built once per set of roots** (:func:`trust_manager`): pyHanko's trust
  manager is a function of the root certificates' encodings.
* **The validation of a certificate's path for a purpose** (pyHanko's ``validate_cert_usage``:
  path building, every certificate's signature and validity, revocation, key usage), kept per
  validation context — one moment and one revocation policy — keyed by the certificate, the
  key usage constraints and the size of the context's certificate registry. The registry only
  grows (each CMS adds the certificates it carries before its path is built; OCSP responses add
  theirs); everything else the result depends on (trust roots, moment, policy, validation data)
  is fixed for the context. An unchanged registry size therefore means the same inputs and the
  same result; any new certificate makes the next validation run in full.

Nothing that is *checked* is kept across documents: each call of ``verify_pdf`` makes every
signature check, path validation and revocation check it reports on.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from asn1crypto import algos
from asn1crypto.core import Asn1Value
from asn1crypto.keys import PublicKeyInfo
from asn1crypto.x509 import Certificate
from pyhanko.sign.general import SignedDataCerts, _partition_certs, extract_signer_info
from pyhanko.sign.validation import generic_cms
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
)

_MAX_ENTRIES = 10_000  # a hostile file cannot make the memo of one document grow without end
Parsed = TypeVar("Parsed", bound=Asn1Value)


class KnownSignatures(DefaultSignatureValidator):
    """pyHanko's signature check, remembering the ones that succeeded (module docstring)."""

    def __init__(self) -> None:
        self._valid: set[tuple[Any, ...]] = set()

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        key = (
            bytes(signature),
            bytes(signed_data),
            public_key_info.dump(),
            signature_algorithm.dump(),
            context,
        )
        if key in self._valid:
            return
        super().validate_signature(
            signature, signed_data, public_key_info, signature_algorithm, context
        )
        if len(self._valid) < _MAX_ENTRIES:
            self._valid.add(key)


class DocumentValidationContext(ValidationContext):
    """A validation context that keeps its certificate path validations (module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.usage_results: dict[tuple[Any, ...], Any] = {}


def _frozen(value: Any) -> Any:
    if isinstance(value, str | bytes | bool | int | None):
        return value
    return tuple(sorted(str(v) for v in value))


def _usage_key(cert: Any, vc: DocumentValidationContext, settings: Any, params: Any) -> tuple:
    constraints = tuple((f.name, _frozen(getattr(settings, f.name))) for f in fields(settings))
    return (cert.dump(), constraints, params, len(vc.certificate_registry.certs))


_original_validate_cert_usage = generic_cms.validate_cert_usage


async def _validate_cert_usage(
    cert: Any,
    validation_context: ValidationContext,
    key_usage_settings: Any,
    paths: Any,
    pkix_validation_params: Any = None,
) -> Any:
    if not isinstance(validation_context, DocumentValidationContext) or pkix_validation_params:
        return await _original_validate_cert_usage(
            cert, validation_context, key_usage_settings, paths, pkix_validation_params
        )
    key = _usage_key(cert, validation_context, key_usage_settings, pkix_validation_params)
    known = validation_context.usage_results.get(key)
    if known is None:
        known = await _original_validate_cert_usage(
            cert, validation_context, key_usage_settings, paths, pkix_validation_params
        )
        if len(validation_context.usage_results) < _MAX_ENTRIES:
            validation_context.usage_results[key] = known
    else:
        await paths.cancel()  # the path search is not needed this time
    return known


class ParsedObjects:
    """Parsed objects by type and encoding, least recently used first out (module docstring).

    Bounded in number and in the bytes of the encodings kept; safe to share between threads.
    """

    def __init__(self, max_entries: int = 4096, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[tuple[type, bytes], Any] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def share(self, value: Parsed) -> Parsed:
        """The kept object of the type and encoding of ``value``, else ``value`` (now kept)."""
        encoding = value.dump()
        key = (type(value), encoding)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                kept: Parsed = found
                return kept
            if len(encoding) > self.max_bytes // 16:
                return value  # a huge CRL, say: not worth the room of many others
            self._items[key] = value
            self._bytes += len(encoding)
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                (_, old), _ = self._items.popitem(last=False)
                self._bytes -= len(old)
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


PARSED = ParsedObjects()


@dataclass
class _Document:
    extracted: dict[int, tuple[Any, SignedDataCerts]] = field(default_factory=dict)
    signing_certificates: set[tuple[bytes, bytes]] = field(default_factory=set)
    signatures: KnownSignatures = field(default_factory=KnownSignatures)


_DOCUMENT: ContextVar[_Document | None] = ContextVar("qianshu_document", default=None)


@contextmanager
def document_scope() -> Iterator[None]:
    """Certificates parsed once while verifying one document (module docstring)."""
    token = _DOCUMENT.set(_Document())
    try:
        yield
    finally:
        _DOCUMENT.reset(token)


def shared(value: Parsed) -> Parsed:
    """The parsed object of the type and encoding of ``value`` (a certificate, an OCSP
    response, a CRL) kept in :data:`PARSED`, or ``value`` itself outside
    :func:`document_scope`."""
    if _DOCUMENT.get() is None:
        return value
    return PARSED.share(value)


_TRUST_MANAGERS: OrderedDict[tuple[bytes, ...], SimpleTrustManager] = OrderedDict()
_TRUST_LOCK = threading.Lock()


def trust_manager(roots: Sequence[Certificate]) -> SimpleTrustManager:
    """pyHanko's trust manager for ``roots``, built once per set of encodings (a few kept)."""
    key = tuple(root.dump() for root in roots)
    with _TRUST_LOCK:
        found = _TRUST_MANAGERS.get(key)
        if found is not None:
            _TRUST_MANAGERS.move_to_end(key)
            return found
    built = SimpleTrustManager.build(trust_roots=list(roots))
    with _TRUST_LOCK:
        _TRUST_MANAGERS[key] = built
        while len(_TRUST_MANAGERS) > 16:
            _TRUST_MANAGERS.popitem(last=False)
    return built


def known_signatures() -> KnownSignatures:
    """The signature checks of the document being verified (fresh outside
    :func:`document_scope`)."""
    document = _DOCUMENT.get()
    return document.signatures if document is not None else KnownSignatures()


_original_extract_certificate_info = generic_cms.extract_certificate_info


def _certificates_shared(signed_data: Any) -> SignedDataCerts:
    """pyHanko's ``extract_certificate_info``, choosing the signer among the shared parsed
    certificates (each CMS's own copies are not parsed further)."""
    certs, attribute_certs = [], []
    for choice in signed_data["certificates"]:
        cert = choice.chosen.untag()
        if choice.name == "certificate":
            certs.append(shared(cert))
        elif choice.name == "v2_attr_cert":
            attribute_certs.append(cert)
    signer_cert, other_certs = _partition_certs(certs, extract_signer_info(signed_data))
    return SignedDataCerts(
        signer_cert=signer_cert, other_certs=other_certs, attribute_certs=attribute_certs
    )


_original_check_signing_certificate = generic_cms._check_signing_certificate


def _check_signing_certificate(cert: Any, signed_attrs: Any) -> None:
    document = _DOCUMENT.get()
    if document is None:
        _original_check_signing_certificate(cert, signed_attrs)
        return
    # By the content octets: pyHanko passes the attributes with their [0] tag and without it.
    key = (cert.dump(), bytes(signed_attrs.contents or b""))
    if key in document.signing_certificates:
        return
    _original_check_signing_certificate(cert, signed_attrs)  # raises when they do not match
    if len(document.signing_certificates) < _MAX_ENTRIES:
        document.signing_certificates.add(key)


def _extract_certificate_info(signed_data: Any) -> SignedDataCerts:
    document = _DOCUMENT.get()
    if document is None:
        return _original_extract_certificate_info(signed_data)
    known = document.extracted.get(id(signed_data))
    if known is None or known[0] is not signed_data:
        known = (signed_data, _certificates_shared(signed_data))
        if len(document.extracted) < _MAX_ENTRIES:
            document.extracted[id(signed_data)] = known
    info = known[1]
    return SignedDataCerts(info.signer_cert, list(info.other_certs), list(info.attribute_certs))


def install() -> None:
    """Route pyHanko's certificate path validation through the memo (idempotent; contexts
    other than :class:`DocumentValidationContext` are validated exactly as before)."""
    generic_cms.validate_cert_usage = _validate_cert_usage
    generic_cms.extract_certificate_info = _extract_certificate_info
    generic_cms._check_signing_certificate = _check_signing_certificate
