"""The asn1crypto trap behind seconds-long signatures, and the values that avoid it.

asn1crypto reads a DER header ending in 0x80 as an indefinite length and then re-encodes the
whole value on each dump (see ``qianshu.signing.der``). These tests build such a value on
purpose and check, without timing anything, that our classes dump it without parsing and
re-encoding what it holds — and that asn1crypto's own class does (the trap is real).
"""

from __future__ import annotations

import asyncio
import hashlib

from asn1crypto import cms

from qianshu.signing.der import DerSignerInfo, FrozenContentInfo
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
