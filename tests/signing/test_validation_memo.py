"""What certificate validation keeps within one document must give the answers a fresh
validation gives (qianshu.signing.validation_memo): a failure is never remembered as a
success, a certificate that could not be validated is validated again once the context
learns the certificate its path was missing, and parsed objects shared across documents are
the objects of the same encoding, within bounds."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.exceptions import InvalidSignature
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus

from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.signers import to_asn1
from qianshu.signing.validation_memo import (
    DocumentValidationContext,
    KnownSignatures,
    ParsedObjects,
    _original_extract_certificate_info,
    document_scope,
    shared,
)
from qianshu.signing.verify import INVALID, VALID, verify_pdf
from tests.signing import helpers


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return helpers.make_platform()


def test_a_failed_signature_check_is_never_remembered(platform: EphemeralPlatform) -> None:
    issuing = to_asn1(platform.pki.issuing.certificate)
    root = to_asn1(platform.pki.root.certificate)
    checks = KnownSignatures()
    tbs = issuing["tbs_certificate"].dump()
    signature = issuing["signature_value"].native
    algorithm = issuing["signature_algorithm"]
    checks.validate_signature(signature, tbs, root.public_key, algorithm)
    checks.validate_signature(signature, tbs, root.public_key, algorithm)  # remembered
    forged = tbs[:-1] + bytes([tbs[-1] ^ 1])
    for _ in range(2):
        with pytest.raises(InvalidSignature):
            checks.validate_signature(signature, forged, root.public_key, algorithm)
    with pytest.raises(InvalidSignature):  # the right data under another key
        checks.validate_signature(signature, tbs, issuing.public_key, algorithm)


def _usage(cert: object, vc: DocumentValidationContext) -> object:
    paths = vc.path_builder.async_build_paths_lazy(cert)
    return asyncio.run(
        generic_cms.validate_cert_usage(
            cert,
            vc,
            key_usage_settings=PdfSignatureStatus.default_usage_constraints(None),
            paths=paths,
        )
    )


def test_a_path_is_validated_again_when_the_missing_certificate_arrives(
    platform: EphemeralPlatform,
) -> None:
    signer = platform.person_signer("Alice").signing_cert
    vc = DocumentValidationContext(trust_roots=platform.trust_roots, allow_fetching=False)
    first = _usage(signer, vc)
    assert first.success_result is None  # the issuing CA is unknown to this context
    assert _usage(signer, vc).success_result is None
    vc.certificate_registry.register(to_asn1(platform.pki.issuing.certificate))
    assert _usage(signer, vc).success_result is not None


def test_every_call_verifies_its_own_document(platform: EphemeralPlatform) -> None:
    """Nothing verified for one file carries over to the next: the same contract with one
    flipped byte in a signed range right after it is invalid."""
    data = helpers.signed_document(platform, finished=False).signed
    assert verify_pdf(data, platform.trust).verdict == VALID
    at = data.index(helpers.PAGE_TEXT % 1) + len(b"Contract page 1: the buyer pays ")
    tampered = data[:at] + b"9" + data[at + 1 :]
    assert verify_pdf(tampered, platform.trust).verdict == INVALID
    assert verify_pdf(data, platform.trust).verdict == VALID


def test_objects_are_shared_by_type_and_encoding(platform: EphemeralPlatform) -> None:
    issuing = to_asn1(platform.pki.issuing.certificate).dump()
    root = to_asn1(platform.pki.root.certificate).dump()
    load = asn1_x509.Certificate.load
    outside = load(issuing)
    assert shared(outside) is outside  # no document: nothing kept
    with document_scope():
        first = shared(load(issuing))
        assert shared(load(issuing)) is first
        assert shared(load(root)) is not first
        assert shared(load(root)).dump() == root
    with document_scope():  # the next document of the platform parses its CA once more: no
        assert shared(load(issuing)) is first


def test_kept_objects_are_bounded(platform: EphemeralPlatform) -> None:
    certs = [
        to_asn1(c).dump() for c in (platform.pki.root.certificate, platform.pki.issuing.certificate)
    ]
    certs.append(to_asn1(platform.pki.tsa.certificate).dump())
    kept = ParsedObjects(max_entries=2, max_bytes=64 * max(len(c) for c in certs))
    parsed = [kept.share(asn1_x509.Certificate.load(c)) for c in certs]
    assert len(kept) == 2  # the least recently used went out
    assert kept.share(asn1_x509.Certificate.load(certs[0])) is not parsed[0]
    assert kept.share(asn1_x509.Certificate.load(certs[2])) is parsed[2]
    small = ParsedObjects(max_bytes=16 * len(certs[0]) - 1)  # too big for its share: not kept
    one = small.share(asn1_x509.Certificate.load(certs[0]))
    assert small.share(asn1_x509.Certificate.load(certs[0])) is not one
    assert len(small) == 0


def _cms_of(data: bytes) -> list[Any]:
    reader = PdfFileReader(io.BytesIO(data))
    return [
        EmbeddedPdfSignature(reader, field, name).signed_data
        for name, _, field in enumerate_sig_fields(reader, filled_status=True)
    ]


def test_certificates_are_chosen_as_pyhanko_chooses_them(platform: EphemeralPlatform) -> None:
    data = helpers.signed_document(platform).signed
    for signed_data in _cms_of(data):
        tokens = [signed_data]
        signer_info = signed_data["signer_infos"][0]
        tokens += [t for t in generic_cms.extract_tst_data_iter(signer_info, signed=False)]
        for cms in tokens:
            original = _original_extract_certificate_info(cms)
            with document_scope():
                ours = generic_cms.extract_certificate_info(cms)
                again = generic_cms.extract_certificate_info(cms)
            assert ours.signer_cert.dump() == original.signer_cert.dump()
            assert [c.dump() for c in ours.other_certs] == [c.dump() for c in original.other_certs]
            assert again.signer_cert is ours.signer_cert


def test_a_signing_certificate_mismatch_is_never_remembered(platform: EphemeralPlatform) -> None:
    data = helpers.signed_document(platform).signed
    signed_data = _cms_of(data)[0]
    attrs = signed_data["signer_infos"][0]["signed_attrs"]
    signer = generic_cms.extract_certificate_info(signed_data).signer_cert
    other = to_asn1(platform.pki.issuing.certificate)
    with document_scope():
        generic_cms._check_signing_certificate(signer, attrs)
        generic_cms._check_signing_certificate(signer, attrs)  # remembered
        for _ in range(2):
            with pytest.raises(SignatureValidationError):
                generic_cms._check_signing_certificate(other, attrs)
