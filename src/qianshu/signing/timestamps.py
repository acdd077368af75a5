"""RFC 3161 time-stamp authority: answers TimeStampReq messages with signed TSTInfo tokens.

:class:`TimeStampAuthority` is the responder (usable in process and behind an HTTP view that
posts ``application/timestamp-query``); :class:`InProcessTimeStamper` plugs it into pyHanko as
a :class:`pyhanko.sign.timestamps.TimeStamper` without a network round trip.

:func:`stamp_digest` and :func:`check_token` handle stand-alone tokens over a SHA-256 digest
(the audit trail's anchors): a token is kept as DER and checked later against the trusted roots
at the time it names, so it stays checkable after the TSA certificate expires.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Sequence

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from qianshu.signing.der import FrozenContentInfo, freeze
from qianshu.signing.errors import TimestampError
from qianshu.signing.pki import CertifiedKey, utcnow

# Private enterprise-style arc for Qianshu's TSA policy (documented in the README).
TSA_POLICY_OID = "1.3.6.1.4.1.59213.1.1"
_ACCEPTED_DIGESTS = {"sha256": 32, "sha384": 48, "sha512": 64}


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    from cryptography.hazmat.primitives.serialization import Encoding

    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


class _StatusOnlyResp(core.Sequence):
    """A TimeStampResp without token (asn1crypto's class makes the optional token mandatory)."""

    _fields = [("status", tsp.PKIStatusInfo)]


def _rejection(failure: str, text: str) -> _StatusOnlyResp:
    return _StatusOnlyResp(
        {
            "status": tsp.PKIStatusInfo(
                {
                    "status": tsp.PKIStatus("rejection"),
                    "status_string": tsp.PKIFreeText([text]),
                    "fail_info": tsp.PKIFailureInfo({failure}),
                }
            )
        }
    )


class TimeStampAuthority:
    """An RFC 3161 responder signing with the platform TSA key.

    Thread-safe and stateless apart from its key; serial numbers are 128-bit random values, so
    several processes can answer requests at once without coordination.
    """

    def __init__(
        self,
        tsa: CertifiedKey,
        chain: Sequence[x509.Certificate] = (),
        *,
        policy_oid: str = TSA_POLICY_OID,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._key = tsa.key
        self._cert = _asn1(tsa.certificate)
        self._chain = [_asn1(c) for c in chain]
        self._policy = policy_oid
        self._clock = clock
        # Built once and parsed back from DER: asn1crypto re-serialises (copies) freshly built
        # values each time they are embedded, which cost milliseconds per token.
        self._ess_attr = cms.CMSAttribute.load(
            simple_cms_attribute(
                "signing_certificate_v2", as_signing_certificate_v2(self._cert, "sha256")
            ).dump()
        )
        self._tsa_name = asn1_x509.GeneralName.load(
            asn1_x509.GeneralName(name="directory_name", value=self._cert.subject).dump()
        )
        self._sid = cms.SignerIdentifier.load(
            cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": self._cert.issuer, "serial_number": self._cert.serial_number}
                    )
                }
            ).dump()
        )
        self._sig_algo = "sha256_ecdsa" if self._key.algorithm == "ec" else "sha256_rsa"
        # Upper bound of a token's DER size: certificates plus TSTInfo, attributes, signature.
        self.token_size_hint = (
            sum(len(c.dump()) for c in (self._cert, *self._chain))
            + 1024
            + self._key.max_signature_size
        )

    @property
    def certificate(self) -> asn1_x509.Certificate:
        return self._cert

    def respond(self, request_der: bytes) -> bytes:
        """Answer a DER ``TimeStampReq``; malformed requests get a DER rejection, not an error."""
        try:
            request = tsp.TimeStampReq.load(request_der)
            request.native  # noqa: B018 - force a full parse so garbage is caught here
        except (ValueError, TypeError, KeyError, IndexError, OverflowError):
            return _rejection("bad_data_format", "malformed TimeStampReq").dump()
        return self.stamp(request).dump()

    def stamp(self, request: tsp.TimeStampReq) -> tsp.TimeStampResp | _StatusOnlyResp:
        """Answer a parsed request (a rejection carries only the status, as RFC 3161 says)."""
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        if algorithm not in _ACCEPTED_DIGESTS:
            return _rejection("bad_alg", f"unsupported hash algorithm {algorithm}")
        if len(imprint["hashed_message"].native) != _ACCEPTED_DIGESTS[algorithm]:
            return _rejection("bad_data_format", "hash length does not match its algorithm")
        policy = request["req_policy"].native
        if policy is not None and policy != self._policy:
            return _rejection("unaccepted_policy", f"policy {policy} is not offered")
        if request["extensions"].native:
            return _rejection("unaccepted_extension", "extensions are not supported")
        now = self._clock()
        info: dict[str, object] = {
            "version": "v1",
            "policy": self._policy,
            "message_imprint": imprint,
            "serial_number": secrets.randbits(127),
            "gen_time": now,
            "accuracy": {"seconds": 1},
            "tsa": self._tsa_name,
        }
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"]
        tst_info = tsp.TSTInfo(info)
        try:
            token = self._sign(tst_info.dump(), now, include_certs=bool(request["cert_req"].native))
        except Exception as exc:
            raise TimestampError(f"the TSA could not sign: {type(exc).__name__}") from exc
        return tsp.TimeStampResp(
            {
                "status": tsp.PKIStatusInfo({"status": tsp.PKIStatus("granted")}),
                "time_stamp_token": token,
            }
        )

    def _sign(self, tst_info: bytes, now: dt.datetime, *, include_certs: bool) -> cms.ContentInfo:
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(now)})),
                self._ess_attr,
                simple_cms_attribute("message_digest", hashlib.sha256(tst_info).digest()),
            ]
        )
        signature = self._key.sign(signed_attrs.dump(), "sha256")
        digest_algorithm = algos.DigestAlgorithm({"algorithm": "sha256"})
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": self._sid,
                "digest_algorithm": digest_algorithm,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": self._sig_algo}),
                "signed_attrs": signed_attrs,
                "signature": signature,
            }
        )
        signed_data: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": cms.DigestAlgorithms((digest_algorithm,)),
            "encap_content_info": cms.EncapsulatedContentInfo(
                {"content_type": "tst_info", "content": cms.ParsableOctetString(tst_info)}
            ),
            "signer_infos": [signer_info],
        }
        if include_certs:
            signed_data["certificates"] = [self._cert, *self._chain]
        # Frozen: a token encoded by asn1crypto's dump could take seconds (qianshu.signing.der).
        return freeze(
            cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})
        )


class InProcessTimeStamper(TimeStamper):
    """pyHanko time stamper that asks a :class:`TimeStampAuthority` directly."""

    def __init__(self, authority: TimeStampAuthority) -> None:
        super().__init__(include_nonce=True)
        self.authority = authority

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        response = self.authority.stamp(req)
        if isinstance(response, _StatusOnlyResp):
            raise TimestampError(
                "the TSA rejected the request: " + str(response["status"]["status_string"].native)
            )
        return response

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        token = await super().async_timestamp(message_digest, md_algorithm)
        # Handed on frozen as the TSA encoded it: see qianshu.signing.der for the asn1crypto
        # trap that otherwise made some signatures take seconds.
        return FrozenContentInfo.load(token.dump())


def stamp_digest(authority: TimeStampAuthority, digest: bytes) -> bytes:
    """A time-stamp token (DER ``ContentInfo``, TSA certificates included) over a SHA-256
    ``digest``. Raises :class:`TimestampError` when the authority refuses or cannot sign."""
    if len(digest) != _ACCEPTED_DIGESTS["sha256"]:
        raise TimestampError("a SHA-256 digest has 32 bytes")
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": tsp.MessageImprint(
                {
                    "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                    "hashed_message": digest,
                }
            ),
            "nonce": secrets.randbits(63),
            "cert_req": True,
        }
    )
    response = authority.stamp(request)
    if isinstance(response, _StatusOnlyResp):
        raise TimestampError(
            "the TSA rejected the request: " + str(response["status"]["status_string"].native)
        )
    return bytes(response["time_stamp_token"].dump())


def token_time(token: bytes) -> dt.datetime:
    """The time a token names (``genTime``), read without checking anything."""
    return _tst_info(token)["gen_time"].native


def _tst_info(token: bytes) -> tsp.TSTInfo:
    try:
        info = cms.ContentInfo.load(bytes(token))
        if info["content_type"].native != "signed_data":
            raise TimestampError("the token is not CMS SignedData")
        content = info["content"]["encap_content_info"]["content"]
        tst_info = content.parsed if isinstance(content, core.ParsableOctetString) else None
        if not isinstance(tst_info, tsp.TSTInfo):
            raise TimestampError("the token does not hold a TSTInfo")
        tst_info.native  # noqa: B018 - force a full parse so garbage is caught here
    except TimestampError:
        raise
    except Exception as exc:  # asn1crypto raises many types on malformed DER
        raise TimestampError(f"the token cannot be read: {type(exc).__name__}") from exc
    return tst_info


def check_token(token: bytes, digest: bytes, roots: Sequence[asn1_x509.Certificate]) -> dt.datetime:
    """Check a token from :func:`stamp_digest`: it is intact, covers ``digest`` (SHA-256) and
    was signed by a TSA certificate that chains to one of ``roots`` at the time it names.
    Returns that time; raises :class:`TimestampError` saying what is wrong otherwise."""
    gen_time = token_time(token)
    signed_data = cms.ContentInfo.load(bytes(token))["content"]
    context = ValidationContext(
        trust_roots=list(roots),
        allow_fetching=False,
        revocation_mode="soft-fail",
        moment=gen_time,
    )

    def expected(algorithm: str) -> bytes:
        if algorithm != "sha256":
            raise TimestampError(f"the token uses {algorithm}, not SHA-256")
        return digest

    try:
        status = asyncio.run(validate_tst_signed_data(signed_data, context, expected))
    except TimestampError:
        raise
    except Exception as exc:  # pyHanko raises many types on malformed or foreign tokens
        raise TimestampError(f"the token cannot be validated: {type(exc).__name__}") from exc
    if not status.get("intact") or not status.get("valid"):
        raise TimestampError("the token does not cover this digest or its signature is invalid")
    if status.get("trust_problem_indic") is not None:
        raise TimestampError("the token was not signed by a trusted time-stamp authority")
    return gen_time


def digest_of(data: bytes) -> bytes:
    """SHA-256 of ``data`` (what :func:`stamp_digest` expects)."""
    return hashlib.sha256(data).digest()
