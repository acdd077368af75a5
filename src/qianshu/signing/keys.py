"""Key stores: where private signing keys live and how they are unlocked.

Three stores behind one small vocabulary (:class:`SigningKey` objects that sign, opaque
``bytes`` references that the caller persists):

* :class:`SoftwareKeyStore` — keys encrypted with AES-256-GCM under a key derived from the
  platform master key. Used for the platform CA, TSA and OCSP keys and, by default, seal keys.
* :class:`PinKeyStore` — a person's long-term key, encrypted under a key derived from the
  person's signing PIN (Argon2id) *combined with* a server secret: neither a database dump nor
  the server alone can unlock it. A wrong PIN raises :class:`WrongPinError`.
* :class:`Pkcs11KeyStore` — non-extractable keys in a PKCS#11 token (an HSM; SoftHSM2 in tests).

Keys are ECDSA P-256 by default: fast to generate (event certificates make one per signing)
and to sign with, and understood by pyHanko, poppler/NSS and Adobe.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from qianshu.signing.errors import ConfigurationError, KeyStoreError, WrongPinError

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

KEY_ALGORITHMS = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072")


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    try:
        return _HASHES[name.lower()]()
    except KeyError:
        raise KeyStoreError(f"unsupported digest algorithm {name!r}") from None


def generate_private_key(algorithm: str = "ec-p256") -> PrivateKey:
    """Generate a private key in memory: ``ec-p256``, ``ec-p384``, ``rsa-2048`` or ``rsa-3072``."""
    if algorithm == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if algorithm in ("rsa-2048", "rsa-3072"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[4:]))
    raise ConfigurationError(f"unknown key algorithm {algorithm!r}; use one of {KEY_ALGORITHMS}")


class SigningKey(ABC):
    """A private key that can produce signatures, wherever it lives."""

    @property
    @abstractmethod
    def public_key(self) -> PublicKey:
        """The public half, as a ``cryptography`` object."""

    @abstractmethod
    def sign(self, data: bytes, digest_algorithm: str = "sha256") -> bytes:
        """Hash ``data`` and sign it: DER ECDSA-Sig-Value for EC keys, PKCS#1 v1.5 for RSA."""

    @property
    def algorithm(self) -> str:
        return "ec" if isinstance(self.public_key, ec.EllipticCurvePublicKey) else "rsa"

    @property
    def max_signature_size(self) -> int:
        """Upper bound of a signature's size in bytes (used to size placeholders)."""
        key = self.public_key
        if isinstance(key, ec.EllipticCurvePublicKey):
            n = (key.curve.key_size + 7) // 8
            return 2 * n + 9
        return (key.key_size + 7) // 8

    def public_key_der(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class SoftwareSigningKey(SigningKey):
    """A key held in process memory (already unwrapped)."""

    def __init__(self, private_key: PrivateKey) -> None:
        if not isinstance(private_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise KeyStoreError("only EC and RSA keys are supported")
        self._key = private_key
        self._public = private_key.public_key()

    @property
    def public_key(self) -> PublicKey:
        return self._public

    @property
    def private_key(self) -> PrivateKey:
        """The in-memory key, for the CA, whose certificate builder needs it directly."""
        return self._key

    def sign(self, data: bytes, digest_algorithm: str = "sha256") -> bytes:
        algo = hash_algorithm(digest_algorithm)
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(algo))
        return self._key.sign(data, padding.PKCS1v15(), algo)


def _private_key_der(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_private_key_der(der: bytes) -> PrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise KeyStoreError("wrapped key is neither EC nor RSA")
    return key


def _hkdf(secret: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


_SOFT_MAGIC = b"QSK1"
_PIN_MAGIC = b"QSP1"


class SoftwareKeyStore:
    """Keys wrapped with AES-256-GCM under a key derived from the platform master key.

    The ``label`` given when wrapping is bound to the ciphertext as associated data: a wrapped
    key copied onto another record (another seal, another CA) no longer unwraps.
    """

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) < 32:
            raise ConfigurationError("the master key must be at least 32 bytes")
        self._kek = AESGCM(_hkdf(master_key, b"qianshu/software-key-wrap/v1"))

    def wrap(self, private_key: PrivateKey, label: str) -> bytes:
        nonce = os.urandom(12)
        aad = _SOFT_MAGIC + label.encode()
        return _SOFT_MAGIC + nonce + self._kek.encrypt(nonce, _private_key_der(private_key), aad)

    def unwrap(self, wrapped: bytes, label: str) -> SoftwareSigningKey:
        if not wrapped.startswith(_SOFT_MAGIC) or len(wrapped) < 4 + 12 + 16:
            raise KeyStoreError("not a wrapped software key")
        nonce, ct = wrapped[4:16], wrapped[16:]
        try:
            der = self._kek.decrypt(nonce, ct, _SOFT_MAGIC + label.encode())
        except InvalidTag:
            raise KeyStoreError(
                "the key cannot be unwrapped: wrong master key or a key of another record"
            ) from None
        return SoftwareSigningKey(_load_private_key_der(der))

    def create_key(self, label: str, algorithm: str = "ec-p256") -> tuple[bytes, SigningKey]:
        """Generate a key; return ``(reference to persist, usable key)``."""
        key = generate_private_key(algorithm)
        return self.wrap(key, label), SoftwareSigningKey(key)

    def load_key(self, reference: bytes, label: str) -> SigningKey:
        return self.unwrap(reference, label)


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters; stored in each wrapped key so they can be raised later."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 1

    def __post_init__(self) -> None:
        if self.time_cost < 1 or self.memory_kib < 8 or self.parallelism < 1:
            raise ConfigurationError("Argon2 parameters out of range")


PIN_LENGTH = 6


class PinKeyStore:
    """Person keys wrapped under Argon2id(PIN) combined with a server secret.

    Without the PIN nobody — not even the platform — can produce the person's signature; without
    the server secret, a stolen database does not allow offline PIN guessing.
    """

    def __init__(self, server_secret: bytes, params: Argon2Params | None = None) -> None:
        if len(server_secret) < 32:
            raise ConfigurationError("the server secret must be at least 32 bytes")
        self._server_key = _hkdf(server_secret, b"qianshu/pin-key-wrap/v1")
        self._params = params or Argon2Params()

    @staticmethod
    def check_pin_format(pin: str) -> None:
        if len(pin) != PIN_LENGTH or not pin.isascii() or not pin.isdigit():
            raise WrongPinError("the signing PIN must be 6 digits", code="pin_format")

    def _kek(self, pin: str, salt: bytes, params: Argon2Params) -> AESGCM:
        from argon2.low_level import Type, hash_secret_raw

        stretched = hash_secret_raw(
            pin.encode(),
            salt,
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            hash_len=32,
            type=Type.ID,
        )
        return AESGCM(_hkdf(stretched + self._server_key, b"qianshu/pin-kek/v1"))

    def wrap(self, private_key: PrivateKey, pin: str, label: str) -> bytes:
        self.check_pin_format(pin)
        p = self._params
        header = _PIN_MAGIC + struct.pack(">III", p.time_cost, p.memory_kib, p.parallelism)
        salt, nonce = os.urandom(16), os.urandom(12)
        ct = self._kek(pin, salt, p).encrypt(
            nonce, _private_key_der(private_key), header + label.encode()
        )
        return header + salt + nonce + ct

    def unwrap(self, wrapped: bytes, pin: str, label: str) -> SoftwareSigningKey:
        self.check_pin_format(pin)
        if not wrapped.startswith(_PIN_MAGIC) or len(wrapped) < 16 + 16 + 12 + 16:
            raise KeyStoreError("not a PIN-wrapped key")
        header = wrapped[:16]
        try:
            params = Argon2Params(*struct.unpack(">III", header[4:16]))
        except ConfigurationError:
            raise KeyStoreError("corrupt PIN-wrapped key header") from None
        salt, nonce, ct = wrapped[16:32], wrapped[32:44], wrapped[44:]
        try:
            der = self._kek(pin, salt, params).decrypt(nonce, ct, header + label.encode())
        except InvalidTag:
            raise WrongPinError("wrong signing PIN") from None
        return SoftwareSigningKey(_load_private_key_der(der))

    def create_key(
        self, pin: str, label: str, algorithm: str = "ec-p256"
    ) -> tuple[bytes, SigningKey]:
        key = generate_private_key(algorithm)
        return self.wrap(key, pin, label), SoftwareSigningKey(key)

    def rewrap(self, wrapped: bytes, old_pin: str, new_pin: str, label: str) -> bytes:
        """Change the PIN: the key (and so the certificate) stays the same."""
        key = self.unwrap(wrapped, old_pin, label)
        return self.wrap(key.private_key, new_pin, label)


class Pkcs11SigningKey(SigningKey):
    """A non-extractable key in a PKCS#11 token."""

    def __init__(self, store: Pkcs11KeyStore, key: Any, public_key: PublicKey) -> None:
        self._store = store
        self._key = key
        self._public = public_key

    @property
    def public_key(self) -> PublicKey:
        return self._public

    def sign(self, data: bytes, digest_algorithm: str = "sha256") -> bytes:
        import pkcs11

        try:
            if isinstance(self._public, ec.EllipticCurvePublicKey):
                # SoftHSM2 only offers raw ECDSA: hash here, sign the digest in the token.
                digest = hashlib.new(digest_algorithm, data).digest()
                with self._store.lock:
                    raw = self._key.sign(digest, mechanism=pkcs11.Mechanism.ECDSA)
                half = len(raw) // 2
                r, s = int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
                return encode_dss_signature(r, s)
            mech = {
                "sha256": pkcs11.Mechanism.SHA256_RSA_PKCS,
                "sha384": pkcs11.Mechanism.SHA384_RSA_PKCS,
                "sha512": pkcs11.Mechanism.SHA512_RSA_PKCS,
            }[digest_algorithm]
            with self._store.lock:
                return bytes(self._key.sign(data, mechanism=mech))
        except KeyError:
            raise KeyStoreError(f"unsupported digest algorithm {digest_algorithm!r}") from None
        except pkcs11.PKCS11Error as exc:
            raise KeyStoreError(f"the HSM refused to sign: {type(exc).__name__}") from exc


class Pkcs11KeyStore:
    """Keys generated inside a PKCS#11 token and never leaving it.

    The reference returned by :meth:`create_key` is the key's CKA_ID. One logged-in session is
    kept per store object; calls are serialised with a lock (tokens differ in thread safety).
    """

    def __init__(self, lib_path: str, token_label: str, user_pin: str) -> None:
        import pkcs11

        try:
            lib = pkcs11.lib(lib_path)
            token = lib.get_token(token_label=token_label)
            self._session = token.open(user_pin=user_pin, rw=True)
        except (pkcs11.PKCS11Error, RuntimeError, OSError, AttributeError) as exc:
            raise ConfigurationError(
                f"cannot open PKCS#11 token {token_label!r} with {lib_path}: "
                f"{type(exc).__name__} {exc}"
            ) from exc
        self.lock = threading.RLock()

    def close(self) -> None:
        with self.lock:
            self._session.close()

    def create_key(self, label: str, algorithm: str = "ec-p256") -> tuple[bytes, SigningKey]:
        import pkcs11
        from pkcs11.util.ec import encode_named_curve_parameters

        key_id = os.urandom(16)
        attrs: dict[str, Any] = {"store": True, "label": label, "id": key_id}
        try:
            with self.lock:
                if algorithm.startswith("ec-"):
                    curve = {"ec-p256": "secp256r1", "ec-p384": "secp384r1"}[algorithm]
                    params = self._session.create_domain_parameters(
                        pkcs11.KeyType.EC,
                        {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters(curve)},
                        local=True,
                    )
                    params.generate_keypair(
                        **attrs,
                        private_template={
                            pkcs11.Attribute.SENSITIVE: True,
                            pkcs11.Attribute.EXTRACTABLE: False,
                        },
                    )
                elif algorithm.startswith("rsa-"):
                    self._session.generate_keypair(
                        pkcs11.KeyType.RSA,
                        int(algorithm[4:]),
                        **attrs,
                        private_template={
                            pkcs11.Attribute.SENSITIVE: True,
                            pkcs11.Attribute.EXTRACTABLE: False,
                        },
                    )
                else:
                    raise KeyError(algorithm)
        except KeyError:
            raise ConfigurationError(f"unknown key algorithm {algorithm!r}") from None
        except pkcs11.PKCS11Error as exc:
            raise KeyStoreError(f"the HSM could not generate a key: {type(exc).__name__}") from exc
        return key_id, self.load_key(key_id, label)

    def load_key(self, reference: bytes, label: str = "") -> SigningKey:
        import pkcs11
        from pkcs11.util.ec import encode_ec_public_key

        try:
            with self.lock:
                priv = self._session.get_key(
                    object_class=pkcs11.ObjectClass.PRIVATE_KEY, id=reference
                )
                pub = self._session.get_key(
                    object_class=pkcs11.ObjectClass.PUBLIC_KEY, id=reference
                )
                public: Any
                if pub.key_type == pkcs11.KeyType.EC:
                    public = serialization.load_der_public_key(
                        encode_ec_public_key(pub)  # type: ignore[arg-type]
                    )
                else:
                    public = rsa.RSAPublicNumbers(
                        int.from_bytes(pub[pkcs11.Attribute.PUBLIC_EXPONENT], "big"),
                        int.from_bytes(pub[pkcs11.Attribute.MODULUS], "big"),
                    ).public_key()
        except (pkcs11.NoSuchKey, pkcs11.MultipleObjectsReturned):
            raise KeyStoreError("no such key in the HSM") from None
        except pkcs11.PKCS11Error as exc:
            raise KeyStoreError(f"HSM error: {type(exc).__name__}") from exc
        if not isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise KeyStoreError("unsupported key type in the HSM")
        return Pkcs11SigningKey(self, priv, public)
