"""Platform PKI: hierarchy, end-entity certificates, CRLs, OCSP and the TSA."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os

import pytest
from asn1crypto import algos, core, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, NameOID
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from qianshu.signing import pki, revocation
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.errors import PkiError
from qianshu.signing.keys import SoftwareSigningKey, generate_private_key
from qianshu.signing.signers import to_asn1

CREDIT_CODE = "91350100M000100Y43"


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return EphemeralPlatform(base_url="https://sign.example.edu.cn")


def _ext(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> object:
    return cert.extensions.get_extension_for_oid(oid).value


def test_hierarchy_chains_and_constraints(platform: EphemeralPlatform) -> None:
    p = platform.pki
    p.root.certificate.verify_directly_issued_by(p.root.certificate)
    p.issuing.certificate.verify_directly_issued_by(p.root.certificate)
    for service in (p.tsa, p.ocsp):
        service.certificate.verify_directly_issued_by(p.issuing.certificate)
    root_bc = _ext(p.root.certificate, ExtensionOID.BASIC_CONSTRAINTS)
    issuing_bc = _ext(p.issuing.certificate, ExtensionOID.BASIC_CONSTRAINTS)
    assert root_bc.ca and root_bc.path_length == 1  # type: ignore[attr-defined]
    assert issuing_bc.ca and issuing_bc.path_length == 0  # type: ignore[attr-defined]
    tsa_eku = _ext(p.tsa.certificate, ExtensionOID.EXTENDED_KEY_USAGE)
    assert list(tsa_eku) == [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]  # type: ignore[call-overload]
    assert p.tsa.certificate.extensions.get_extension_for_oid(
        ExtensionOID.EXTENDED_KEY_USAGE
    ).critical


def test_end_entity_certificates_name_platform_urls(platform: EphemeralPlatform) -> None:
    signer = platform.seal_signer("厦门某某科技有限公司", CREDIT_CODE, "合同专用章")
    cert = x509.load_der_x509_certificate(signer.signing_cert.dump())
    cert.verify_directly_issued_by(platform.pki.issuing.certificate)
    aia = _ext(cert, ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    by_method = {d.access_method: d.access_location.value for d in aia}  # type: ignore[attr-defined]
    assert by_method[AuthorityInformationAccessOID.OCSP] == (
        "https://sign.example.edu.cn/pki/ocsp/issuing"
    )
    assert by_method[AuthorityInformationAccessOID.CA_ISSUERS] == (
        "https://sign.example.edu.cn/pki/ca/issuing.crt"
    )
    cdp = _ext(cert, ExtensionOID.CRL_DISTRIBUTION_POINTS)
    assert cdp[0].full_name[0].value == "https://sign.example.edu.cn/pki/crl/issuing.crl"  # type: ignore[index]
    subject = cert.subject
    assert (
        subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "厦门某某科技有限公司"
    )
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "合同专用章"
    assert (
        subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value
        == "NTRCN-" + CREDIT_CODE
    )
    ku = _ext(cert, ExtensionOID.KEY_USAGE)
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign  # type: ignore[attr-defined]


def test_person_certificate_never_carries_an_id_number(platform: EphemeralPlatform) -> None:
    key = SoftwareSigningKey(generate_private_key())
    for bad in ("420111199001016814", "11010519491231002X", "110105491231002"):
        with pytest.raises(PkiError):
            pki.issue_person_certificate(
                platform.pki.issuing, pki.PersonIdentity("张三", bad), key.public_key, platform.urls
            )
    cert = pki.issue_person_certificate(
        platform.pki.issuing,
        pki.PersonIdentity("张三", pki.new_subject_id()),
        key.public_key,
        platform.urls,
    )
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "张三"
    assert not any(
        ch.isdigit() for ch in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    )


def test_event_certificate_is_short_lived(platform: EphemeralPlatform) -> None:
    key = SoftwareSigningKey(generate_private_key())
    cert = pki.issue_event_certificate(
        platform.pki.issuing,
        pki.PersonIdentity("李四", "QS123"),
        "EV-1",
        key.public_key,
        platform.urls,
    )
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= dt.timedelta(hours=25)
    assert "Event EV-1" in cert.subject.rfc4514_string()


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("91350100M000100Y43", True),
        ("91110000100000589A", True),
        ("91350100M000100Y44", False),  # wrong check digit
        ("91350100M000100Y4", False),  # 17 chars
        ("91350100M0001O0Y43", False),  # letter O is not in the alphabet
        ("", False),
    ],
)
def test_credit_code_check_digit(code: str, ok: bool) -> None:
    assert pki.validate_credit_code(code) is ok


def test_seal_certificate_refuses_bad_credit_code(platform: EphemeralPlatform) -> None:
    key = SoftwareSigningKey(generate_private_key())
    with pytest.raises(PkiError) as info:
        pki.issue_seal_certificate(
            platform.pki.issuing,
            pki.SealIdentity("某公司", "91350100M000100Y44", "公章", "S"),
            key.public_key,
            platform.urls,
        )
    assert info.value.code == "credit_code"


def test_crl_lists_revoked_certificates(platform: EphemeralPlatform) -> None:
    signer = platform.person_signer("王五")
    serial = signer.signing_cert.serial_number
    platform.revoke(serial)
    crl = x509.load_der_x509_crl(platform.revocation.crl_for(pki.ISSUING_ID))
    assert crl.is_signature_valid(platform.pki.issuing.key.public_key)  # type: ignore[arg-type]
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    assert entry is not None
    assert crl.next_update_utc is not None and crl.next_update_utc > dt.datetime.now(dt.UTC)
    root_crl = x509.load_der_x509_crl(platform.revocation.crl_for(pki.ROOT_ID))
    assert root_crl.is_signature_valid(platform.pki.root.key.public_key)  # type: ignore[arg-type]
    assert len(root_crl) == 0


def _ocsp_request(cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes | None) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256())
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(Encoding.DER)


def test_ocsp_answers_good_revoked_unknown_and_garbage(platform: EphemeralPlatform) -> None:
    issuing = platform.pki.issuing.certificate
    good = platform.person_signer("赵六")
    revoked = platform.person_signer("钱七")
    platform.revoke(revoked.signing_cert.serial_number)
    lookup = lambda serial: (  # noqa: E731
        (platform.issued[serial], platform._status(serial)) if serial in platform.issued else None
    )

    def ask(signer_cert: x509.Certificate, nonce: bytes | None = None) -> ocsp.OCSPResponse:
        der = revocation.answer_ocsp_request(
            _ocsp_request(signer_cert, issuing, nonce), issuing, platform.pki.ocsp, lookup
        )
        return ocsp.load_der_ocsp_response(der)

    as_crypto = lambda s: x509.load_der_x509_certificate(s.signing_cert.dump())  # noqa: E731
    nonce = os.urandom(16)
    resp = ask(as_crypto(good), nonce)
    assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    platform.pki.ocsp.certificate.public_key().verify(  # type: ignore[call-arg]
        resp.signature,
        resp.tbs_response_bytes,
        __import__("cryptography.hazmat.primitives.asymmetric.ec", fromlist=["ECDSA"]).ECDSA(
            hashes.SHA256()
        ),
    )
    assert ask(as_crypto(revoked)).certificate_status == ocsp.OCSPCertStatus.REVOKED
    # A certificate we never issued (same issuer name, random serial): "unknown".
    stranger_key = generate_private_key()
    stranger = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .issuer_name(issuing.subject)
        .public_key(stranger_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .sign(stranger_key, hashes.SHA256())
    )
    assert ask(stranger).certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    garbage = revocation.answer_ocsp_request(b"\x30\x03junk", issuing, platform.pki.ocsp, lookup)
    assert ocsp.load_der_ocsp_response(garbage).response_status == (
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )
    other = EphemeralPlatform()
    foreign = revocation.answer_ocsp_request(
        _ocsp_request(other.pki.tsa.certificate, other.pki.issuing.certificate, None),
        issuing,
        platform.pki.ocsp,
        lookup,
    )
    assert ocsp.load_der_ocsp_response(foreign).response_status == (
        ocsp.OCSPResponseStatus.UNAUTHORIZED
    )


def _tsq(data: bytes, algorithm: str = "sha256", nonce: int | None = 42) -> tsp.TimeStampReq:
    req = {
        "version": "v1",
        "message_imprint": tsp.MessageImprint(
            {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
                "hashed_message": hashlib.new(algorithm, data).digest(),
            }
        ),
        "cert_req": True,
    }
    if nonce is not None:
        req["nonce"] = nonce
    return tsp.TimeStampReq(req)


def test_tsa_token_verifies_and_binds_the_imprint(platform: EphemeralPlatform) -> None:
    response = tsp.TimeStampResp.load(platform.tsa.respond(_tsq(b"hello").dump()))
    assert response["status"]["status"].native == "granted"
    token = response["time_stamp_token"]
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == hashlib.sha256(b"hello").digest()
    assert tst_info["nonce"].native == 42
    gen_time = tst_info["gen_time"].native
    assert abs((gen_time - dt.datetime.now(dt.UTC)).total_seconds()) < 5
    vc = ValidationContext(trust_roots=platform.trust_roots, allow_fetching=False)
    status = asyncio.run(
        validate_tst_signed_data(
            token["content"], vc, lambda algorithm: hashlib.new(algorithm, b"hello").digest()
        )
    )
    assert status["intact"] and status["valid"], status
    assert status["validation_path"] is not None  # chained to the platform root
    # Serial numbers are unique across requests.
    again = tsp.TimeStampResp.load(platform.tsa.respond(_tsq(b"hello").dump()))
    serial2 = (
        again["time_stamp_token"]["content"]["encap_content_info"]["content"]
        .parsed["serial_number"]
        .native
    )
    assert serial2 != tst_info["serial_number"].native


def _status_of(der: bytes) -> tsp.PKIStatusInfo:
    # A rejection is SEQUENCE { status } with no token; read the first element only.
    outer = core.Sequence.load(der)
    return tsp.PKIStatusInfo.load(outer[0].dump())


def test_tsa_rejects_bad_requests_without_raising(platform: EphemeralPlatform) -> None:
    for raw, failure in (
        (b"not asn.1 at all", "bad_data_format"),
        (_tsq(b"x", "md5").dump(), "bad_alg"),
        (_tsq(b"x", "sha1").dump(), "bad_alg"),
    ):
        status = _status_of(platform.tsa.respond(raw))
        assert status["status"].native == "rejection", raw
        assert failure in status["fail_info"].native
    wrong_policy = _tsq(b"x")
    wrong_policy["req_policy"] = "1.2.3.4"
    assert _status_of(platform.tsa.respond(wrong_policy.dump()))["status"].native == "rejection"


def test_ca_keys_must_be_software_keys(platform: EphemeralPlatform) -> None:
    class Opaque(SoftwareSigningKey.__mro__[1]):  # type: ignore[misc,valid-type]
        public_key = platform.pki.issuing.key.public_key

        def sign(self, data: bytes, digest_algorithm: str = "sha256") -> bytes:
            return b""

    ca = pki.CertifiedKey(platform.pki.issuing.certificate, Opaque())
    with pytest.raises(PkiError):
        revocation.build_crl(ca, [], crl_number=1)


def test_certificates_load_round_trip(platform: EphemeralPlatform) -> None:
    pem = pki.certificate_pem(platform.pki.root.certificate)
    assert pki.load_certificate(pem) == platform.pki.root.certificate
    assert pki.load_certificate(platform.pki.root.certificate_der) == platform.pki.root.certificate
    with pytest.raises(PkiError):
        pki.load_certificate(b"garbage")
    assert to_asn1(platform.pki.root.certificate).dump() == platform.pki.root.certificate_der
