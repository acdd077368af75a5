"""The offline root, its ceremonies, the upgrade of older deployments and service renewal.

Written as an operator with database or admin access would probe it: the root key must not be
anywhere the platform can read, a wrong key must sign nothing, and OCSP must not lapse.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from qianshu.pki import services
from qianshu.pki.actions import (
    do_init_pki,
    do_issue_person_certificate,
    do_renew_service_certificates,
    load_root_key,
    root_key_pem,
)
from qianshu.pki.keystores import software_key_store
from qianshu.pki.models import IssuedCertificate, PlatformKey, RootRevocationList
from qianshu.pki.platform import load_platform, root_key_online
from qianshu.signing import documents, hierarchy, pki, revocation, stamps
from qianshu.signing.keys import SoftwareSigningKey, generate_private_key
from qianshu.signing.samples import make_test_pdf
from qianshu.signing.signers import KeySigner
from qianshu.signing.verify import verify_pdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def root_key_file(db, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "offline" / "root.pem"
    call_command(
        "init_pki", "--name", "测试大学", "--root-key-out", str(path), stdout=io.StringIO()
    )
    return path


def _root_crl() -> x509.CertificateRevocationList:
    response = Client().get("/pki/crl/root.crl")
    assert response.status_code == 200
    return x509.load_der_x509_crl(response.content)


def _spki(key: object) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined]


def test_the_platform_never_holds_the_root_key(root_key_file: Path) -> None:
    assert stat.S_IMODE(os.stat(root_key_file).st_mode) == 0o600
    root_key = load_root_key(root_key_file.read_bytes())
    platform = load_platform()
    root = platform.pki.root.certificate
    assert _spki(root_key.public_key) == _spki(root.public_key())
    assert isinstance(platform.pki.root, pki.RootCertificate)
    assert not root_key_online()
    # No row of the key table unwraps to the root key.
    store = software_key_store()
    for row in PlatformKey.objects.exclude(wrapped_key=b""):
        key = store.unwrap(bytes(row.wrapped_key), f"pki:{row.role}")
        assert _spki(key.public_key) != _spki(root.public_key()), row.role
    # The root signed the issuing CA and its first CRL, which the platform serves.
    platform.pki.issuing.certificate.verify_directly_issued_by(root)
    crl = _root_crl()
    assert crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    assert crl.next_update_utc - crl.last_update_utc == revocation.ROOT_CRL_LIFETIME  # type: ignore[operator]


def test_root_sign_makes_a_fresh_root_crl_listing_revoked_cas(root_key_file: Path) -> None:
    before = _root_crl()
    issuing_row = IssuedCertificate.objects.get(kind="ca")
    issuing_row.revoked_at = dt.datetime.now(dt.UTC)
    issuing_row.revocation_reason = "superseded"
    issuing_row.save()
    out = io.StringIO()
    call_command(
        "pki", "root-sign", "--root-key", str(root_key_file), "--crl-days", "30", stdout=out
    )
    assert "root CRL" in out.getvalue()
    after = _root_crl()
    number = after.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > before.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert after.get_revoked_certificate_by_serial_number(issuing_row.serial_number) is not None
    assert after.next_update_utc - after.last_update_utc == dt.timedelta(days=30)  # type: ignore[operator]


def test_a_wrong_root_key_signs_nothing(root_key_file: Path, tmp_path: Path) -> None:
    impostor = tmp_path / "impostor.pem"
    impostor.write_bytes(root_key_pem(SoftwareSigningKey(generate_private_key())))
    issuing_before = bytes(PlatformKey.objects.get(role="issuing").certificate_der)
    count = RootRevocationList.objects.count()
    with pytest.raises(CommandError, match="root"):
        call_command("pki", "root-sign", "--root-key", str(impostor), "--issuing-ca")
    with pytest.raises(CommandError):
        call_command("pki", "root-sign", "--root-key", str(tmp_path / "missing.pem"))
    with pytest.raises(CommandError):
        (tmp_path / "junk.pem").write_bytes(b"not a key")
        call_command("pki", "root-sign", "--root-key", str(tmp_path / "junk.pem"))
    assert RootRevocationList.objects.count() == count
    assert bytes(PlatformKey.objects.get(role="issuing").certificate_der) == issuing_before


def test_recertified_issuing_ca_keeps_earlier_signatures_valid(root_key_file: Path) -> None:
    platform = load_platform()
    key = SoftwareSigningKey(generate_private_key())
    cert = do_issue_person_certificate(pki.PersonIdentity("王五", "QS3"), key.public_key)
    signed = documents.sign_turn(
        documents.prepare_document(
            make_test_pdf(pages=1),
            [documents.FieldSpec("sig", 0, stamps.Rect(60, 60, 200, 120))],
            certifier=platform.certifier,
            timestamper=platform.timestamper,
        ),
        [documents.Placement("sig", stamps.StampImage.from_png(stamps.render_text_image("王五")))],
        signer=KeySigner(key, cert, platform.pki.chain),
        timestamper=platform.timestamper,
    )
    old_issuing = platform.pki.issuing.certificate
    call_command(
        "pki", "root-sign", "--root-key", str(root_key_file), "--issuing-ca", stdout=io.StringIO()
    )
    renewed = load_platform()
    assert renewed.pki.issuing.certificate != old_issuing
    assert renewed.pki.issuing.certificate.public_key() == old_issuing.public_key()
    # Completed with the new issuing CA certificate: the document's older one still counts.
    final = documents.finish_document(
        signed,
        timestamper=renewed.timestamper,
        revocation=renewed.revocation,
        trust_roots=list(renewed.trust().roots),
        locker=renewed.certifier,
    )
    report = verify_pdf(final, renewed.trust())
    assert report.verdict == "valid", report.reason


def _legacy_deployment() -> SoftwareSigningKey:
    """The layout before the root went offline: the root key wrapped in the database and no
    stored root CRL (the platform signed one on every request)."""
    root_key = SoftwareSigningKey(generate_private_key())
    do_init_pki(name="旧平台", keep_root_key=lambda key: None)
    # Re-create the root the old way, with its key kept in the table.
    platform = load_platform()
    made = hierarchy.create_root_ca("旧平台", root_key)
    issuing = hierarchy.create_issuing_ca(
        "旧平台", made, platform.pki.issuing.key, pki.PkiUrls("http://127.0.0.1:8000")
    )
    PlatformKey.objects.filter(role="root").update(
        certificate_der=made.certificate_der,
        wrapped_key=software_key_store().wrap(root_key.private_key, "pki:root"),
    )
    PlatformKey.objects.filter(role="issuing").update(certificate_der=issuing.certificate_der)
    RootRevocationList.objects.all().delete()
    return root_key


def test_an_older_deployment_keeps_working_then_exports_its_root_key(tmp_path: Path) -> None:
    root_key = _legacy_deployment()
    assert root_key_online()
    status = io.StringIO()
    call_command("pki", "status", stdout=status)
    assert "IN THE DATABASE" in status.getvalue()
    # Until the export, the platform still signs its root CRL as before.
    assert _root_crl().is_signature_valid(root_key.public_key)  # type: ignore[arg-type]
    out = tmp_path / "root.pem"
    call_command("pki", "export-root-key", "--out", str(out), stdout=io.StringIO())
    assert not root_key_online()
    assert _spki(load_root_key(out.read_bytes()).public_key) == _spki(root_key.public_key)
    assert RootRevocationList.objects.count() == 1
    assert _root_crl().is_signature_valid(root_key.public_key)  # type: ignore[arg-type]
    with pytest.raises(CommandError, match="already offline"):
        call_command("pki", "export-root-key", "--out", str(tmp_path / "again.pem"))
    status = io.StringIO()
    call_command("pki", "status", stdout=status)
    assert "offline" in status.getvalue()


def test_export_never_overwrites_a_file_and_keeps_the_key_when_it_fails(tmp_path: Path) -> None:
    _legacy_deployment()
    existing = tmp_path / "root.pem"
    existing.write_bytes(b"something else")
    with pytest.raises(CommandError, match="exists"):
        call_command("pki", "export-root-key", "--out", str(existing))
    assert existing.read_bytes() == b"something else"
    assert root_key_online()


def test_a_passphrase_protects_the_key_file(db, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ROOT_PASS", "correct horse battery staple")
    path = tmp_path / "root.pem"
    call_command(
        "init_pki", "--root-key-out", str(path), "--passphrase-env", "ROOT_PASS",
        stdout=io.StringIO(),
    )  # fmt: skip
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    with pytest.raises(CommandError):
        call_command("pki", "root-sign", "--root-key", str(path))
    call_command(
        "pki", "root-sign", "--root-key", str(path), "--passphrase-env", "ROOT_PASS",
        stdout=io.StringIO(),
    )  # fmt: skip
    monkeypatch.setenv("ROOT_PEM", path.read_text())
    call_command(
        "pki", "root-sign", "--root-key-env", "ROOT_PEM", "--passphrase-env", "ROOT_PASS",
        stdout=io.StringIO(),
    )  # fmt: skip
    assert RootRevocationList.objects.count() == 3


def test_no_root_crl_is_a_404_not_a_crash(root_key_file: Path) -> None:
    RootRevocationList.objects.all().delete()
    assert Client().get("/pki/crl/root.crl").status_code == 404


def _ocsp_good(platform_cert: x509.Certificate) -> ocsp.OCSPResponse:
    platform = load_platform()
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(platform_cert, platform.pki.issuing.certificate, hashes.SHA256())
        .build()
        .public_bytes(Encoding.DER)
    )
    response = Client().post("/pki/ocsp/issuing", request, content_type="application/ocsp-request")
    return ocsp.load_der_ocsp_response(response.content)


def _expire_ocsp_responder(days_left: float) -> x509.Certificate:
    """Replace the responder certificate with one that runs out in ``days_left`` days."""
    issuing = services.issuing_ca()
    key = SoftwareSigningKey(generate_private_key())
    now = dt.datetime.now(dt.UTC)
    made = hierarchy.issue_ocsp_responder(
        "测试大学",
        issuing,
        key,
        services.urls(),
        now=now - dt.timedelta(days=7) + dt.timedelta(days=days_left),
    )
    PlatformKey.objects.filter(role="ocsp").update(
        certificate_der=made.certificate_der,
        wrapped_key=software_key_store().wrap(key.private_key, "pki:ocsp"),
    )
    return made.certificate


def test_the_ocsp_responder_is_renewed_by_the_timers(root_key_file: Path) -> None:
    old = _expire_ocsp_responder(days_left=1)
    assert do_renew_service_certificates() == {"ocsp": True, "tsa": False}
    row = PlatformKey.objects.get(role="ocsp")
    new = x509.load_der_x509_certificate(bytes(row.certificate_der))
    assert new.serial_number != old.serial_number and new.public_key() != old.public_key()
    assert new.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=6)
    assert IssuedCertificate.objects.filter(serial_hex=format(new.serial_number, "x")).exists()
    assert do_renew_service_certificates() == {"ocsp": False, "tsa": False}


def test_ocsp_never_lapses_even_without_timers(root_key_file: Path) -> None:
    old = _expire_ocsp_responder(days_left=-1)  # already expired
    response = _ocsp_good(load_platform().platform.certificate)
    signer = response.certificates[0]
    assert signer.serial_number != old.serial_number
    assert signer.not_valid_after_utc > dt.datetime.now(dt.UTC)
    response.certificates[0].verify_directly_issued_by(load_platform().pki.issuing.certificate)
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD


def test_the_tsa_certificate_is_renewed_before_archives_would_need_it(
    root_key_file: Path,
) -> None:
    old = load_platform().pki.tsa.certificate
    with override_settings(QIANSHU_ARCHIVE_RENEW_DAYS=3650):  # inside the window already
        assert do_renew_service_certificates()["tsa"] is True
    new = load_platform().pki.tsa.certificate
    assert new != old and new.public_key() != old.public_key()
    assert do_renew_service_certificates()["tsa"] is False


def test_the_cps_is_served_in_chinese_and_english(root_key_file: Path) -> None:
    cert = load_platform().platform.certificate
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    cps_url = policies[0].policy_qualifiers[0]
    assert cps_url == "http://127.0.0.1:8000/pki/cps"
    client = Client()
    zh = client.get("/pki/cps")
    assert zh.status_code == 200
    text = zh.content.decode()
    assert "电子认证业务规则" in text and pki.POLICY_PERSON in text and pki.POLICY_SEAL in text
    assert "QS:CN-" in text and "离线" in text
    en = client.get("/pki/cps?lang=en").content.decode()
    assert "Certification Practice Statement" in en and pki.POLICY_EVENT in en
    assert "kept offline" in en
