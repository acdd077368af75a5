"""Long-term validation: which validation data counts, and at what time certificates are judged.

Past-signature validation after ETSI EN 319 102-1 (§5.6.2.4), as far as a verifier without
network access can do it:

* **Proof of existence (PoE).** A signature is known to have existed at the time of its
  signature time-stamp, if that time-stamp is intact, valid and trusted; otherwise at the
  time of the first valid document time-stamp after it. A signature time-stamp is known to
  exist at the first valid document time-stamp after it; a document time-stamp at the next
  valid one. Without any of these, the PoE is "now".
* **Judged at the PoE.** Each certificate (signer, TSA) is validated at its PoE time, so a
  certificate that expired or was revoked *after* the PoE does not invalidate what was signed
  before; one revoked *before* it does. A failure at a later PoE (a document time-stamp) is
  retried at the signature time-stamp's earlier time.
* **Covered validation data only.** Certificates, OCSP responses and CRLs count when a
  document time-stamp covers them: the DSS as of the newest valid document time-stamp.
  Material added after it — or any DSS in a file without a document time-stamp — is not
  protected: it never changes a verdict, it can only earn the label B-LT, and the report
  says it was not used.
* **Revocation.** With covered data, revocation information is required and must verify
  (OCSP signed by an authorised responder, CRL by the issuer) and be fresh at the PoE
  (issued later is fine: ``retroactive_revinfo``). A revocation dated at or before the PoE
  makes the signature invalid. When no usable information exists, the chain is validated
  without revocation checking and the report says "not checked" (a forged OCSP response
  therefore downgrades nothing and upgrades nothing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager

from qianshu.signing.structure import DssMaterial
from qianshu.signing.validation_memo import (
    DocumentValidationContext,
    KnownSignatures,
    known_signatures,
    trust_manager,
)
from qianshu.signing.verdicts import TrustSettings

REQUIRE = CertRevTrustPolicy(
    RevocationCheckingPolicy(
        ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
        intermediate_ca_cert_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
    ),
    retroactive_revinfo=True,
)
SKIP = CertRevTrustPolicy(
    RevocationCheckingPolicy(
        ee_certificate_rule=RevocationCheckingRule.NO_CHECK,
        intermediate_ca_cert_rule=RevocationCheckingRule.NO_CHECK,
    )
)


@dataclass
class Contexts:
    """Validation contexts of one document, one per (moment, policy), built on demand.

    A context keeps the certificate paths it has validated, and every context of the document
    shares the signature checks that succeeded (:mod:`qianshu.signing.validation_memo`), so every
    signature judged at the same moment shares them (in a finished document every signature
    time-stamp and most signatures are judged at the time of the same document time-stamp).
    """

    trust: TrustSettings
    covered: DssMaterial
    _trust_manager: SimpleTrustManager | None = None
    _signatures: KnownSignatures = field(default_factory=known_signatures)
    _cache: dict[tuple[dt.datetime | None, bool], ValidationContext] = field(default_factory=dict)

    @property
    def has_revinfo(self) -> bool:
        return bool(self.covered.ocsps or self.covered.crls)

    def at(self, moment: dt.datetime | None, *, revocation: bool) -> ValidationContext:
        key = (moment, revocation)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if self._trust_manager is None:
            self._trust_manager = trust_manager(self.trust.roots)
        material = self.covered if revocation else DssMaterial(certs=self.covered.certs)
        vc = DocumentValidationContext(
            trust_manager=self._trust_manager,
            signature_validator=self._signatures,
            other_certs=list(material.certs),
            ocsps=list(material.ocsps),
            crls=list(material.crls),
            moment=moment,
            allow_fetching=False,
            revinfo_policy=REQUIRE if revocation else SKIP,
            retroactive_revinfo=revocation,
        )
        self._cache[key] = vc
        return vc


def mentions(material: DssMaterial, cert: asn1_x509.Certificate) -> bool:
    """Whether an OCSP response in the material is about ``cert`` (by serial number)."""
    serial = cert.serial_number
    for resp in material.ocsps:
        try:
            basic = resp["response_bytes"]["response"].parsed
            for single in basic["tbs_response_data"]["responses"]:
                if single["cert_id"]["serial_number"].native == serial:
                    return True
        except Exception:  # noqa: BLE001, S112 - an unreadable response tells nothing
            continue
    return False
