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

from qianshu.signing import hierarchy, pki, revocation
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
    crl = x509.load_der_x509_crl(platform.revocation.crl_for(pki.ISSUING_ID) or b"")
    assert crl.is_signature_valid(platform.pki.issuing.key.public_key)  # type: ignore[arg-type]
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    assert entry is not None
    assert crl.next_update_utc is not None and crl.next_update_utc > dt.datetime.now(dt.UTC)
    # The root CRL is the one the offline root signed; the running platform only serves it.
    root_crl = x509.load_der_x509_crl(platform.revocation.crl_for(pki.ROOT_ID) or b"")
    assert root_crl.is_signature_valid(platform.root_ca.key.public_key)  # type: ignore[arg-type]
    assert len(root_crl) == 0
    assert root_crl.next_update_utc is not None
    assert root_crl.next_update_utc - root_crl.last_update_utc == revocation.ROOT_CRL_LIFETIME
    assert isinstance(platform.pki.root, pki.RootCertificate)  # no key on the running platform


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


def _policies(cert: x509.Certificate) -> dict[str, list[object]]:
    value = _ext(cert, ExtensionOID.CERTIFICATE_POLICIES)
    return {p.policy_identifier.dotted_string: p.policy_qualifiers for p in value}  # type: ignore[attr-defined]


class _QcStatement(core.Sequence):
    # RFC 3739: QCStatement ::= SEQUENCE { statementId, statementInfo ANY OPTIONAL }
    _fields = [("id", core.ObjectIdentifier), ("info", core.Any, {"optional": True})]


class _QcStatements(core.SequenceOf):
    _child_spec = _QcStatement


def _semantics_ids(cert: x509.Certificate) -> list[str]:
    """The semantics identifiers declared in the qcStatements extension (RFC 3739, ETSI)."""
    raw = cert.extensions.get_extension_for_oid(
        x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3")
    ).value.value  # type: ignore[attr-defined]
    out = []
    for statement in _QcStatements.load(raw):
        assert statement["id"].dotted == "1.3.6.1.5.5.7.11.2"  # id-qcs-pkixQCSyntax-v2
        semantics_information = core.Sequence.load(statement["info"].dump())
        out.append(core.ObjectIdentifier.load(semantics_information[0].dump()).dotted)
    return out


def test_every_certificate_below_the_root_names_its_policy_and_the_cps(
    platform: EphemeralPlatform,
) -> None:
    cps = "https://sign.example.edu.cn/pki/cps"
    p = platform.pki
    assert _policies(p.issuing.certificate) == {"2.5.29.32.0": [cps]}  # anyPolicy
    person = x509.load_der_x509_certificate(platform.person_signer("张三").signing_cert.dump())
    seal = x509.load_der_x509_certificate(
        platform.seal_signer("厦门某某科技有限公司", CREDIT_CODE, "合同专用章").signing_cert.dump()
    )
    key = SoftwareSigningKey(generate_private_key())
    event = pki.issue_event_certificate(
        p.issuing, pki.PersonIdentity("李四", "QS9"), "EV-9", key.public_key, platform.urls
    )
    expected = {
        person: pki.POLICY_PERSON,
        seal: pki.POLICY_SEAL,
        event: pki.POLICY_EVENT,
        p.tsa.certificate: pki.POLICY_SERVICE,
        p.ocsp.certificate: pki.POLICY_SERVICE,
    }
    for cert, policy in expected.items():
        assert _policies(cert) == {policy: [cps]}, cert.subject
    with pytest.raises(x509.ExtensionNotFound):
        p.root.certificate.extensions.get_extension_for_oid(ExtensionOID.CERTIFICATE_POLICIES)


def test_person_certificates_carry_a_semantics_identifier_for_the_pseudonym(
    platform: EphemeralPlatform,
) -> None:
    key = SoftwareSigningKey(generate_private_key())
    cert = pki.issue_person_certificate(
        platform.pki.issuing, pki.PersonIdentity("张三", "QS-U42"), key.public_key, platform.urls
    )
    serial = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
    assert serial == "QS:CN-QS-U42"  # ETSI EN 319 412-1 §5.1.3, local scheme "QS"
    assert _semantics_ids(cert) == [pki.SEMANTICS_NATURAL]
    seal = x509.load_der_x509_certificate(
        platform.seal_signer("厦门某某科技有限公司", CREDIT_CODE, "公章").signing_cert.dump()
    )
    assert _semantics_ids(seal) == [pki.SEMANTICS_LEGAL]


def test_ocsp_responder_certificates_are_short_lived_and_replaced_when_due(
    platform: EphemeralPlatform,
) -> None:
    responder = platform.pki.ocsp.certificate
    life = responder.not_valid_after_utc - responder.not_valid_before_utc
    assert life <= hierarchy.OCSP_RESPONDER_LIFETIME
    responder.extensions.get_extension_for_class(x509.OCSPNoCheck)
    now = dt.datetime.now(dt.UTC)
    assert not hierarchy.ocsp_responder_due(responder, now)
    assert hierarchy.ocsp_responder_due(responder, now + dt.timedelta(days=6))
    fresh = hierarchy.issue_ocsp_responder(
        platform.name,
        platform.pki.issuing,
        SoftwareSigningKey(generate_private_key()),
        platform.urls,
        now=now + dt.timedelta(days=6),
    )
    fresh.certificate.verify_directly_issued_by(platform.pki.issuing.certificate)
    assert not hierarchy.ocsp_responder_due(fresh.certificate, now + dt.timedelta(days=6))


def test_only_the_root_key_recertifies_the_issuing_ca(platform: EphemeralPlatform) -> None:
    old = platform.pki.issuing.certificate
    new = hierarchy.recertify_issuing_ca(platform.root_ca, old, platform.urls, years=5)
    new.verify_directly_issued_by(platform.pki.root.certificate)
    assert new.subject == old.subject and new.public_key() == old.public_key()
    assert new.serial_number != old.serial_number
    # A certificate the issuing CA signed before chains to the new certificate as well.
    platform.pki.tsa.certificate.verify_directly_issued_by(new)
    impostor = pki.CertifiedKey(
        platform.pki.root.certificate, SoftwareSigningKey(generate_private_key())
    )
    with pytest.raises(PkiError, match="root"):
        hierarchy.recertify_issuing_ca(impostor, old, platform.urls)
