"""Key stores: software (master key), PIN-wrapped person keys, PKCS#11 (SoftHSM2)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from qianshu.signing import documents, stamps
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.errors import ConfigurationError, KeyStoreError, WrongPinError
from qianshu.signing.keys import (
    Argon2Params,
    PinKeyStore,
    Pkcs11KeyStore,
    SigningKey,
    SoftwareKeyStore,
)
from qianshu.signing.samples import make_test_pdf
from qianshu.signing.signers import KeySigner
from qianshu.signing.verify import VerificationReport, verify_pdf

MASTER = bytes(range(32))
FAST_ARGON = Argon2Params(time_cost=1, memory_kib=1024)


def _verify_signature(key: SigningKey, data: bytes, sig: bytes) -> None:
    pub = key.public_key
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(sig, data, ec.ECDSA(hashes.SHA256()))
    else:
        pub.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())


def test_software_keys_wrap_per_label_and_master_key() -> None:
    store = SoftwareKeyStore(MASTER)
    wrapped, key = store.create_key("seal:1")
    assert b"PRIVATE" not in wrapped and len(wrapped) > 100
    loaded = store.load_key(wrapped, "seal:1")
    _verify_signature(key, b"data", loaded.sign(b"data"))
    with pytest.raises(KeyStoreError):
        store.load_key(wrapped, "seal:2")  # copied onto another record
    with pytest.raises(KeyStoreError):
        SoftwareKeyStore(bytes(32)).load_key(wrapped, "seal:1")
    with pytest.raises(KeyStoreError):
        store.load_key(b"QSK1" + bytes(40), "seal:1")
    with pytest.raises(ConfigurationError):
        SoftwareKeyStore(b"short")


def test_pin_key_needs_the_right_pin_and_server_secret() -> None:
    store = PinKeyStore(MASTER, FAST_ARGON)
    wrapped, key = store.create_key("482913", "person:alice")
    signature = store.unwrap(wrapped, "482913", "person:alice").sign(b"contract")
    _verify_signature(key, b"contract", signature)
    for wrong in ("482914", "000000"):
        with pytest.raises(WrongPinError):
            store.unwrap(wrapped, wrong, "person:alice")
    with pytest.raises(WrongPinError) as info:
        store.unwrap(wrapped, "12345", "person:alice")
    assert info.value.code == "pin_format"
    with pytest.raises(WrongPinError):
        store.unwrap(wrapped, "482913", "person:bob")
    # A stolen database without the server secret cannot be brute-forced offline.
    with pytest.raises(WrongPinError):
        PinKeyStore(bytes(32), FAST_ARGON).unwrap(wrapped, "482913", "person:alice")


def test_pin_change_keeps_the_key() -> None:
    store = PinKeyStore(MASTER, FAST_ARGON)
    wrapped, key = store.create_key("482913", "person:alice")
    rewrapped = store.rewrap(wrapped, "482913", "730541", "person:alice")
    with pytest.raises(WrongPinError):
        store.unwrap(rewrapped, "482913", "person:alice")
    new = store.unwrap(rewrapped, "730541", "person:alice")
    assert new.public_key_der() == key.public_key_der()


def test_pin_key_default_cost_parameters_are_stored() -> None:
    store = PinKeyStore(MASTER)  # production Argon2id cost (64 MiB)
    wrapped, _ = store.create_key("482913", "p")
    # Unwrapping with a store configured differently still uses the stored parameters.
    assert PinKeyStore(MASTER, FAST_ARGON).unwrap(wrapped, "482913", "p") is not None


def test_pdf_signed_with_pin_unlocked_key_verifies() -> None:
    platform = EphemeralPlatform()
    store = PinKeyStore(MASTER, FAST_ARGON)
    wrapped, _ = store.create_key("482913", "person:alice")
    signer = platform.person_signer("Alice", store.unwrap(wrapped, "482913", "person:alice"))
    report = _sign_and_verify(platform, signer)
    assert report.signatures[-1].signer_name == "Alice"


def _sign_and_verify(platform: EphemeralPlatform, signer: KeySigner) -> VerificationReport:
    """Prepare a one-page document, sign its one field with ``signer``; it must verify."""
    data = documents.prepare_document(
        make_test_pdf(pages=1, with_cjk_text=False),
        [documents.FieldSpec("sig", 0, stamps.Rect(300, 50, 420, 170))],
        certifier=platform.certifier,
        timestamper=platform.timestamper,
    )
    image = stamps.StampImage.from_png(stamps.render_text_image("SIGN"))
    signed = documents.sign_turn(
        data, [documents.Placement("sig", image)], signer=signer, timestamper=platform.timestamper
    )
    report = verify_pdf(signed, platform.trust)
    assert report.verdict == "valid", report.reason
    return report


SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Pkcs11KeyStore:
    if not (Path(SOFTHSM_LIB).exists() and shutil.which("softhsm2-util")):
        pytest.fail("SoftHSM2 is not installed (make test installs the softhsm2 package)")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            "qianshu-test",
            "--pin",
            "1234",
            "--so-pin",
            "123456",
        ],
        check=True,
        capture_output=True,
    )
    return Pkcs11KeyStore(SOFTHSM_LIB, "qianshu-test", "1234")


@pytest.mark.parametrize("algorithm", ["ec-p256", "rsa-2048"])
def test_pkcs11_keys_sign_pdfs(softhsm: Pkcs11KeyStore, algorithm: str) -> None:
    ref, key = softhsm.create_key(f"seal-{algorithm}", algorithm)
    again = softhsm.load_key(ref)
    assert again.public_key_der() == key.public_key_der()
    _verify_signature(key, b"abc", again.sign(b"abc"))
    platform = EphemeralPlatform()
    signer = platform.seal_signer("某某科技有限公司", "91350100M000100Y43", "合同专用章", key)
    report = _sign_and_verify(platform, signer)
    assert report.signatures[-1].organisation_id == "91350100M000100Y43"


def test_pkcs11_unknown_key_and_bad_token(softhsm: Pkcs11KeyStore) -> None:
    with pytest.raises(KeyStoreError):
        softhsm.load_key(b"no-such-key-id")
    with pytest.raises(ConfigurationError):
        Pkcs11KeyStore(SOFTHSM_LIB, "no-such-token", "1234")
    with pytest.raises(ConfigurationError):
        Pkcs11KeyStore(SOFTHSM_LIB, "qianshu-test", "wrong-pin")
