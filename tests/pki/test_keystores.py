"""The configured key stores."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from qianshu.pki import keystores
from qianshu.signing.errors import WrongPinError
from qianshu.signing.keys import Argon2Params, PinKeyStore


def test_master_key_must_be_32_bytes_of_base64() -> None:
    assert len(keystores.master_key()) == 32
    for bad in ("not base64 !!", "c2hvcnQ=", ""):
        with override_settings(MASTER_KEY=bad), pytest.raises(ImproperlyConfigured):
            keystores.master_key()


def test_software_and_pin_stores_use_different_secrets() -> None:
    software = keystores.software_key_store()
    wrapped, _ = software.create_key("seal:1")
    assert software.load_key(wrapped, "seal:1") is not None
    pin_store = keystores.pin_key_store()
    person, _ = pin_store.create_key("482913", "person:1")
    with pytest.raises(WrongPinError):
        # The PIN store's server secret is derived, not the raw master key.
        PinKeyStore(keystores.master_key(), Argon2Params()).unwrap(person, "482913", "person:1")
    assert pin_store.unwrap(person, "482913", "person:1") is not None


def test_pkcs11_store_needs_a_pin() -> None:
    cfg = {"lib": "/usr/lib/softhsm/libsofthsm2.so", "token": "qianshu", "pin": ""}
    with override_settings(QIANSHU_PKCS11=cfg), pytest.raises(ImproperlyConfigured):
        keystores.pkcs11_key_store()
