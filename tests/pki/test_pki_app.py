"""The platform PKI as the Django app runs it: init, issuing, revocation, HTTP endpoints, CLI."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import algos, core, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from qianshu.pki.actions import (
    PkiAlreadyInitialised,
    do_init_pki,
    do_issue_person_certificate,
    do_issue_seal_certificate,
    do_revoke_certificate,
)
from qianshu.pki.models import IssuedCertificate, PlatformKey
from qianshu.pki.platform import PkiNotInitialised, load_platform
from qianshu.signing import documents, pki, stamps
from qianshu.signing.keys import SoftwareSigningKey, generate_private_key
from qianshu.signing.samples import make_test_pdf
from qianshu.signing.signers import KeySigner
from qianshu.signing.verify import verify_pdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def platform(db):  # type: ignore[no-untyped-def]
    do_init_pki(name="测试大学")
    return load_platform()


def _key() -> SoftwareSigningKey:
    return SoftwareSigningKey(generate_private_key())


def test_init_creates_hierarchy_once(platform) -> None:  # type: ignore[no-untyped-def]
    assert PlatformKey.objects.count() == 5
    assert "测试大学 Root CA" in platform.pki.root.certificate.subject.rfc4514_string()
    platform.pki.issuing.certificate.verify_directly_issued_by(platform.pki.root.certificate)
    # Keys are stored wrapped, never in clear; the root's is not stored at all (offline).
    for row in PlatformKey.objects.all():
        assert b"PRIVATE KEY" not in bytes(row.wrapped_key)
        if row.role == "root":
            assert bytes(row.wrapped_key) == b""
        else:
            assert bytes(row.wrapped_key).startswith(b"QSK1")
    with pytest.raises(PkiAlreadyInitialised):
        do_init_pki()
    assert IssuedCertificate.objects.filter(kind="service").count() == 3


def test_load_without_pki_is_a_clear_error(db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PkiNotInitialised):
        load_platform()
    response = Client().get("/pki/ca/root.crt")
    assert response.status_code == 404


def test_issued_certificates_are_recorded_and_revocable(platform) -> None:  # type: ignore[no-untyped-def]
    person = do_issue_person_certificate(pki.PersonIdentity("张三", "QS1"), _key().public_key)
    seal = do_issue_seal_certificate(
        pki.SealIdentity("厦门某某科技有限公司", "91350100M000100Y43", "合同专用章", "S1"),
        _key().public_key,
    )
    event = do_issue_person_certificate(
        pki.PersonIdentity("张三", "QS1"), _key().public_key, event_id="EV1"
    )
    kinds = dict(IssuedCertificate.objects.values_list("serial_hex", "kind"))
    assert kinds[format(person.serial_number, "x")] == "person"
    assert kinds[format(seal.serial_number, "x")] == "seal"
    assert kinds[format(event.serial_number, "x")] == "event"
    assert do_revoke_certificate(seal.serial_number, reason="key_compromise")
    assert not do_revoke_certificate(seal.serial_number)
    crl = x509.load_der_x509_crl(Client().get("/pki/crl/issuing.crl").content)
    assert crl.get_revoked_certificate_by_serial_number(seal.serial_number) is not None
    assert crl.get_revoked_certificate_by_serial_number(person.serial_number) is None


def _ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    return (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, issuer, hashes.SHA256())
        .build()
        .public_bytes(Encoding.DER)
    )


def test_http_endpoints_named_in_certificates(platform) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    cert = do_issue_person_certificate(pki.PersonIdentity("李四", "QS2"), _key().public_key)
    # The URLs in the certificate are the ones that answer.
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    urls = {d.access_method._name: d.access_location.value for d in aia}
    ocsp_path = urls["OCSP"].removeprefix("http://127.0.0.1:8000")
    ca_path = urls["caIssuers"].removeprefix("http://127.0.0.1:8000")
    response = client.get(ca_path)
    assert response.status_code == 200 and response["Content-Type"] == "application/pkix-cert"
    issuer = x509.load_der_x509_certificate(response.content)
    cert.verify_directly_issued_by(issuer)
    root = x509.load_der_x509_certificate(client.get("/pki/ca/root.crt").content)
    assert root == platform.pki.root.certificate
    assert client.get("/pki/ca/other.crt").status_code == 404

    request = _ocsp_request(cert, issuer)
    response = client.post(ocsp_path, request, content_type="application/ocsp-request")
    assert response["Content-Type"] == "application/ocsp-response"
    assert ocsp.load_der_ocsp_response(response.content).certificate_status == (
        ocsp.OCSPCertStatus.GOOD
    )
    do_revoke_certificate(cert.serial_number)
    encoded = base64.b64encode(request).decode()
    response = client.get(f"{ocsp_path}/{encoded}")
    assert ocsp.load_der_ocsp_response(response.content).certificate_status == (
        ocsp.OCSPCertStatus.REVOKED
    )
    garbage = client.post(ocsp_path, b"junk", content_type="application/ocsp-request")
    assert garbage.status_code == 200
    assert ocsp.load_der_ocsp_response(garbage.content).response_status == (
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )
    too_big = client.post(ocsp_path, b"x" * 20000, content_type="application/ocsp-request")
    assert too_big.status_code == 400


def test_tsa_over_http(platform) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "hashed_message": hashlib.sha256(b"doc").digest(),
            },
            "nonce": 7,
            "cert_req": True,
        }
    ).dump()
    response = client.post("/pki/tsa", request, content_type="application/timestamp-query")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/timestamp-reply"
    token = tsp.TimeStampResp.load(response.content)["time_stamp_token"]
    info = token["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == hashlib.sha256(b"doc").digest()
    wrong_type = client.post("/pki/tsa", request, content_type="application/json")
    assert wrong_type.status_code == 400
    rejected = client.post("/pki/tsa", b"junk", content_type="application/timestamp-query")
    assert core.Sequence.load(rejected.content)[0][0].native == 2  # PKIStatus "rejection"
    assert client.get("/pki/tsa").status_code == 405


def _signed_document(platform) -> bytes:  # type: ignore[no-untyped-def]
    key = _key()
    cert = do_issue_person_certificate(pki.PersonIdentity("王五", "QS3"), key.public_key)
    data = documents.prepare_document(
        make_test_pdf(pages=1),
        [documents.FieldSpec("sig", 0, stamps.Rect(60, 60, 200, 120))],
        certifier=platform.certifier,
        timestamper=platform.timestamper,
    )
    return documents.sign_turn(
        data,
        [documents.Placement("sig", stamps.StampImage.from_png(stamps.render_text_image("王五")))],
        signer=KeySigner(key, cert, platform.pki.chain),
        timestamper=platform.timestamper,
    )


def test_finish_uses_database_revocation_state(platform) -> None:  # type: ignore[no-untyped-def]
    signed = _signed_document(platform)
    final = documents.finish_document(
        signed,
        timestamper=platform.timestamper,
        revocation=platform.revocation,
        trust_roots=[platform.trust().roots[0]],
    )
    report = verify_pdf(final, platform.trust())
    assert report.verdict == "valid", report.reason
    assert {s.pades_level for s in report.signatures if s.kind != "document_timestamp"} == {"B-LTA"}


def test_verify_command(platform, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "signed.pdf"
    path.write_bytes(_signed_document(platform))
    out = io.StringIO()
    call_command("verify", str(path), stdout=out)
    assert "VALID" in out.getvalue() and "王五" in out.getvalue()
    out = io.StringIO()
    call_command("verify", str(path), "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["verdict"] == "valid"
    assert report["signatures"][-1]["signer_name"] == "王五"
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(path.read_bytes() + b"\n% appended\n")
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify", str(tampered), stdout=io.StringIO())
    assert exit_info.value.code == 1
    with pytest.raises(CommandError):
        call_command("verify", str(tmp_path / "missing.pdf"))


def test_init_pki_command(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    with pytest.raises(CommandError, match="--root-key-out"):  # production: say where it goes
        call_command("init_pki", "--name", "示例", stdout=out)
    key_file = tmp_path / "root.pem"
    call_command("init_pki", "--name", "示例", "--root-key-out", str(key_file), stdout=out)
    assert "Platform PKI created" in out.getvalue() and str(key_file) in out.getvalue()
    call_command("init_pki", "--if-absent", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("init_pki", "--root-key-out", str(tmp_path / "other.pem"))


def test_console_command_maps_hyphens() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "qianshu", "init-pki", "--help"],
        capture_output=True,
        text=True,
        env={
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "PYTHONPATH": ".",
            "PATH": "/usr/bin:/bin",
        },
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--if-absent" in result.stdout
