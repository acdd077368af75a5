"""pyHanko signer objects backed by our key stores.

:class:`KeySigner` holds an already unlocked :class:`~qianshu.signing.keys.SigningKey` and its
certificate chain. Unlike pyHanko's stock ``SimpleSigner`` it does not re-parse the private key
for every signature (see SIGNING-NOTES "Speed"), and it answers pyHanko's dry runs with a
placeholder instead of a real signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign import attributes
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers import Signer
from pyhanko.sign.signers.pdf_cms import SignedAttributeProviderSpec
from pyhanko_certvalidator.registry import SimpleCertificateStore

from qianshu.signing.der import DerSignerInfo, freeze
from qianshu.signing.keys import SigningKey


def to_asn1(cert: x509.Certificate | asn1_x509.Certificate) -> asn1_x509.Certificate:
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


class _CachedSigningCertificateV2(attributes.SigningCertificateV2Provider):
    """signing-certificate-v2 value built once: building it anew costs ~2 ms per signature."""

    def __init__(self, signing_cert: asn1_x509.Certificate) -> None:
        super().__init__(signing_cert)
        # Parsed back from DER so that embedding it later does not re-serialise the issuer name.
        self._value = tsp.SigningCertificateV2.load(as_signing_certificate_v2(signing_cert).dump())

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        return self._value


class _PadesSignedAttributes(SignedAttributeProviderSpec):
    """The signed attributes PAdES baseline signatures carry besides content type and digest:
    only signing-certificate-v2 (PAdES forbids signing-time; the timestamp gives the time)."""

    def __init__(self, signing_cert: asn1_x509.Certificate) -> None:
        self._provider = _CachedSigningCertificateV2(signing_cert)

    def signed_attr_providers(
        self, data_digest: bytes, digest_algorithm: str
    ) -> list[attributes.CMSAttributeProvider]:
        return [self._provider]


class KeySigner(Signer):
    """A pyHanko :class:`Signer` over any :class:`SigningKey` (software, PIN-unlocked, PKCS#11)."""

    def __init__(
        self,
        key: SigningKey,
        certificate: x509.Certificate | asn1_x509.Certificate,
        chain: Sequence[x509.Certificate | asn1_x509.Certificate] = (),
    ) -> None:
        store = SimpleCertificateStore.from_certs([to_asn1(c) for c in chain])
        super().__init__(
            signing_cert=to_asn1(certificate),
            cert_registry=store,
            embed_roots=False,  # the root is configured by the relying party,
        )
        self.key = key
        self.signed_attr_prov_spec = _PadesSignedAttributes(self.signing_cert)

    def signer_info(
        self, digest_algorithm: str, signed_attrs: cms.CMSAttributes, signature: bytes
    ) -> cms.SignerInfo:
        # A DerSignerInfo: see qianshu.signing.der for the asn1crypto trap it avoids.
        info = super().signer_info(digest_algorithm, signed_attrs, signature)
        return DerSignerInfo.load(info.dump())

    async def async_sign_prescribed_attributes(self, *args: Any, **kwargs: Any) -> cms.ContentInfo:
        # Frozen: see qianshu.signing.der for the asn1crypto trap it avoids.
        return freeze(await super().async_sign_prescribed_attributes(*args, **kwargs))

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:
            return bytes(self.key.max_signature_size)
        return self.key.sign(data, digest_algorithm)
