"""Algorithm policy: a SHA-1 signature is refused, and the report says why."""

from __future__ import annotations

import io

from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.keys import SoftwareSigningKey, generate_private_key
from qianshu.signing.samples import make_test_pdf
from qianshu.signing.signers import to_asn1
from qianshu.signing.verify import verify_pdf


def test_sha1_signature_cannot_be_relied_on() -> None:
    platform = EphemeralPlatform()
    key = SoftwareSigningKey(generate_private_key("rsa-2048"))
    ours = platform.person_signer("旧系统", key)
    stock = signers.SimpleSigner(
        ours.signing_cert,
        asn1_keys.PrivateKeyInfo.load(
            key.private_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        SimpleCertificateStore.from_certs([to_asn1(c) for c in platform.pki.chain]),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(make_test_pdf(pages=1, with_cjk_text=False)))
    meta = signers.PdfSignatureMetadata(field_name="Old", md_algorithm="sha1")
    signed = signers.PdfSigner(meta, stock).sign_pdf(writer).getvalue()
    report = verify_pdf(signed, platform.trust)
    assert report.verdict == "indeterminate"
    assert "SHA1" in report.reason
    assert report.signatures[0].intact
