"""pyHanko signer objects backed by our key stores.

:class:`KeySigner` holds an already unlocked :class:`~qianshu.signing.keys.SigningKey` and its
certificate chain. Unlike pyHanko's stock ``SimpleSigner`` it does not re-parse the private key
for every signature (see SIGNING-NOTES "Speed"), and it answers pyHanko's dry runs with a
placeholder instead of a real signature.
"""

from __future__ import annotations

from collections.abc import Sequence

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign.signers import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from qianshu.signing.keys import SigningKey


def to_asn1(cert: x509.Certificate | asn1_x509.Certificate) -> asn1_x509.Certificate:
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


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
            embed_roots=False  # the root is configured by the relying party,
        )
        self.key = key

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:
            return bytes(self.key.max_signature_size)
        return self.key.sign(data, digest_algorithm)
