"""The asn1crypto trap behind seconds-long signatures, and the values that avoid it.

asn1crypto reads a DER header ending in 0x80 as an indefinite length and then re-encodes the
whole value on each dump (see ``qianshu.signing.der``). These tests build such a value on
purpose and check, without timing anything, that our classes dump it without parsing and
re-encoding what it holds — and that asn1crypto's own class does (the trap is real).
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from asn1crypto import cms, x509

from qianshu.signing.der import DerSignerInfo, FrozenContentInfo, freeze
from qianshu.signing.ephemeral import EphemeralPlatform


def _signer_info_ending_in_0x80(platform: EphemeralPlatform) -> bytes:
    """A real SignerInfo (with a time-stamp token) padded to k x 256 + 128 content bytes."""
    signer = platform.person_signer("张三")
    data = hashlib.sha256(b"document").digest()
    signed = asyncio.run(
        signer.async_sign(data, "sha256", use_pades=True, timestamper=platform.timestamper)
    )
    info = cms.SignerInfo.load(signed["content"]["signer_infos"][0].dump())
    signature = info["signature"].native
    length = (len(info.contents) // 256 + 1) * 256 + 128
    pad = length - len(info.contents)
    while pad > 0:  # the signature's own length header grows with it: find the fit
        info["signature"] = signature + b"\0" * pad
        der = info.dump()
        got = len(cms.SignerInfo.load(der).contents)
        if got == length:
            return der
        pad -= got - length
    raise AssertionError(f"cannot pad a SignerInfo to {length} bytes")


def test_a_header_ending_in_0x80_makes_asn1crypto_re_encode_but_not_our_signer_info() -> None:
    platform = EphemeralPlatform()
    der = _signer_info_ending_in_0x80(platform)
    assert der[:2] == b"\x30\x82" and der[3] == 0x80  # a definite length ending in 0x80
    theirs = cms.SignerInfo.load(der)
    assert theirs.dump() == der
    assert theirs.children is not None  # asn1crypto parsed it all to encode it again
    ours = DerSignerInfo.load(der)
    assert ours.dump() == der and ours.dump() == der
    assert ours.children is None  # dumped as it is, nothing parsed or re-encoded


def test_setting_unsigned_attributes_encodes_them_once() -> None:
    platform = EphemeralPlatform()
    info = DerSignerInfo.load(_signer_info_ending_in_0x80(platform))
    attrs = cms.SignerInfo.load(info.dump())["unsigned_attrs"]
    info["unsigned_attrs"] = attrs.untag()
    assert type(info["unsigned_attrs"]).__name__ == "DerCMSAttributes"
    assert cms.SignerInfo.load(info.dump())["unsigned_attrs"].dump() == attrs.dump()


def test_a_frozen_token_keeps_its_encoding_when_read() -> None:
    platform = EphemeralPlatform()
    token = asyncio.run(platform.timestamper.async_timestamp(b"\1" * 32, "sha256"))
    assert isinstance(token, FrozenContentInfo)
    der = token.dump()
    # Reading fields (pyHanko checks the nonce and the imprint) changes nothing.
    content = token["content"]
    assert content["encap_content_info"]["content"].parsed["message_imprint"] is not None
    assert not token._is_mutated()
    assert token.dump() == der


def _content_info_ending_in_0x80(platform: EphemeralPlatform) -> tuple[cms.ContentInfo, bytes]:
    """A ContentInfo assembled as pyHanko does (built, not loaded) around a real SignedData
    whose length is k x 256 + 128 bytes, and its DER; the signature is padded to fit."""
    signer = platform.person_signer("李四")
    data = hashlib.sha256(b"document").digest()
    signed = asyncio.run(signer.async_sign(data, "sha256", use_pades=True))
    original = signed["content"].untag().dump()
    info = cms.SignerInfo.load(cms.SignedData.load(original)["signer_infos"][0].dump())
    signature = info["signature"].native
    size = len(cms.SignedData.load(original).contents)
    length = (size // 256 + 1) * 256 + 128
    pad = length - size
    while pad > 0:
        info["signature"] = signature + b"\0" * pad
        parts = cms.SignedData.load(original)
        built = cms.SignedData(
            {
                **{name: parts[name] for name in ("version", "digest_algorithms")},
                **{name: parts[name] for name in ("encap_content_info", "certificates")},
                "signer_infos": [cms.SignerInfo.load(info.dump())],
            }
        )
        content_info = cms.ContentInfo({"content_type": "signed_data", "content": built})
        der = content_info.dump()  # the first dump is right, and sets the misread header
        got = len(cms.ContentInfo.load(der)["content"].contents)
        if got == length:
            return content_info, der
        pad -= got - length
    raise AssertionError(f"cannot pad a SignedData to {length} bytes")


def _count_certificate_encodings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of to-be-signed certificates asn1crypto encodes anew from their parts."""
    calls = [0]
    original = x509.TbsCertificate._set_contents

    def counted(self: x509.TbsCertificate, force: bool = False) -> None:
        calls[0] += 1
        original(self, force)

    monkeypatch.setattr(x509.TbsCertificate, "_set_contents", counted)
    return calls


def test_a_signed_data_header_ending_in_0x80_is_encoded_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform = EphemeralPlatform()
    content_info, der = _content_info_ending_in_0x80(platform)
    signed_data = content_info["content"]
    assert signed_data._header[-1:] == b"\x80" and signed_data._header[-4:-2] == b"\x30\x82"
    encodings = _count_certificate_encodings(monkeypatch)
    # asn1crypto's own second dump takes the length for an indefinite one and re-encodes
    # every certificate, at each level above it (the 8 s per signature of the browser tests).
    assert content_info.dump() == der
    assert encodings[0] > 0
    encodings[0] = 0
    frozen = freeze(content_info)
    assert isinstance(frozen, FrozenContentInfo)
    assert frozen.dump() == der and frozen.dump() == der
    assert frozen.children is None  # later dumps re-encode nothing
    assert encodings[0] == 0  # nor did the one encoding: certificates embedded as issued


def test_our_signer_hands_pyhanko_a_frozen_signature() -> None:
    platform = EphemeralPlatform()
    signer = platform.person_signer("王五")
    signed = asyncio.run(
        signer.async_sign(
            hashlib.sha256(b"x").digest(),
            "sha256",
            use_pades=True,
            timestamper=platform.timestamper,
        )
    )
    assert isinstance(signed, FrozenContentInfo)
    assert cms.ContentInfo.load(signed.dump()).dump() == signed.dump()
