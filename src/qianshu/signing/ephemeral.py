"""An in-memory platform (CA hierarchy, TSA, revocation list) for tests, benchmarks and demos.

Nothing is persisted: the Django side keeps its PKI in the database (``qianshu.pki``). This is
the same machinery wired together in memory, so library-level tests and ``make bench`` exercise
exactly the code production uses. Like production, the running platform (``pki``) knows only
the root's certificate and the CRL the root signed when the hierarchy was made; the root key
stays in :attr:`EphemeralPlatform.root_ca`, as if it were offline, for tests of its ceremonies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from qianshu.signing import hierarchy, pki, revocation
from qianshu.signing.keys import SigningKey, SoftwareSigningKey, generate_private_key
from qianshu.signing.signers import KeySigner, to_asn1
from qianshu.signing.timestamps import InProcessTimeStamper, TimeStampAuthority
from qianshu.signing.verify import TrustSettings


def _key(algorithm: str = "ec-p256") -> SoftwareSigningKey:
    return SoftwareSigningKey(generate_private_key(algorithm))


@dataclass
class EphemeralPlatform:
    """A complete platform PKI held in memory, with a mutable revocation list."""

    name: str = "Qianshu Test"
    base_url: str = "http://127.0.0.1:8000"
    key_algorithm: str = "ec-p256"
    revoked: dict[int, revocation.RevokedEntry] = field(default_factory=dict)
    issued: dict[int, x509.Certificate] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.urls = pki.PkiUrls(self.base_url)
        a = self.key_algorithm
        made = hierarchy.create_platform_pki(
            self.name, self.urls, keys=(_key(a), _key(a), _key(a), _key(a))
        )
        assert isinstance(made.root, pki.CertifiedKey)
        self.root_ca: pki.CertifiedKey = made.root
        self.root_crl = revocation.build_crl(
            self.root_ca, [], crl_number=1, next_update=revocation.ROOT_CRL_LIFETIME
        )
        self.pki = dataclasses.replace(made, root=pki.RootCertificate(made.root.certificate))
        for service in (self.pki.tsa, self.pki.ocsp):
            self._remember(service.certificate)
        self.tsa = TimeStampAuthority(self.pki.tsa, self.pki.chain)
        self.timestamper = InProcessTimeStamper(self.tsa)
        self.revocation = revocation.PlatformRevocation(
            self.pki, self._status, self._revoked_by, lambda: self.root_crl
        )
        platform_key = _key(a)
        platform_cert = self._remember(
            pki.issue_person_certificate(
                self.pki.issuing,
                pki.PersonIdentity(f"{self.name} Platform", "QS-PLATFORM"),
                platform_key.public_key,
                self.urls,
            )
        )
        self.certifier = KeySigner(platform_key, platform_cert, self.pki.chain)

    def _remember(self, cert: x509.Certificate) -> x509.Certificate:
        self.issued[cert.serial_number] = cert
        return cert

    def _status(self, serial: int) -> revocation.CertificateStatus:
        entry = self.revoked.get(serial)
        if entry is not None:
            return revocation.CertificateStatus("revoked", entry.revoked_at, entry.reason)
        if serial in self.issued:
            return revocation.CertificateStatus("good")
        return revocation.CertificateStatus("unknown")

    def _revoked_by(self, ca_id: str) -> list[revocation.RevokedEntry]:
        return list(self.revoked.values()) if ca_id == pki.ISSUING_ID else []

    @property
    def trust(self) -> TrustSettings:
        return TrustSettings(roots=(to_asn1(self.pki.root.certificate),))

    @property
    def trust_roots(self) -> list[Any]:
        return [to_asn1(self.pki.root.certificate)]

    def person_signer(self, name: str, key: SigningKey | None = None) -> KeySigner:
        key = key or _key(self.key_algorithm)
        cert = self._remember(
            pki.issue_person_certificate(
                self.pki.issuing,
                pki.PersonIdentity(name, pki.new_subject_id()),
                key.public_key,
                self.urls,
            )
        )
        return KeySigner(key, cert, self.pki.chain)

    def seal_signer(
        self, org_name: str, credit_code: str, seal_name: str, key: SigningKey | None = None
    ) -> KeySigner:
        key = key or _key(self.key_algorithm)
        cert = self._remember(
            pki.issue_seal_certificate(
                self.pki.issuing,
                pki.SealIdentity(org_name, credit_code, seal_name, pki.new_subject_id()),
                key.public_key,
                self.urls,
            )
        )
        return KeySigner(key, cert, self.pki.chain)

    def new_timestamper(
        self, lifetime: dt.timedelta = hierarchy.TSA_LIFETIME
    ) -> InProcessTimeStamper:
        """A time-stamper with a new TSA key and certificate (a rotated TSA, e.g. short-lived
        for tests of archive renewal)."""
        tsa = hierarchy.issue_tsa_certificate(
            self.name, self.pki.issuing, _key(self.key_algorithm), self.urls, lifetime=lifetime
        )
        self._remember(tsa.certificate)
        return InProcessTimeStamper(TimeStampAuthority(tsa, self.pki.chain))

    def revoke(self, serial: int, when: dt.datetime | None = None) -> None:
        self.revoked[serial] = revocation.RevokedEntry(
            serial, when or pki.utcnow(), x509.ReasonFlags.key_compromise
        )


SUPPLIER_CODE = "91350100M000100Y43"
BUYER_CODE = "91110000100000589A"


def procurement_contract(
    platform: EphemeralPlatform,
    pdf: bytes,
    *,
    seal_png: bytes,
    signature_png: bytes,
) -> list[bytes]:
    """The seed 001 flow on ``pdf``: every revision, from prepared to finished (B-LTA).

    Supplier representative signs → supplier seals (round seal + cross-page seal over every
    page: one signature, a field with a widget per page) → buyer representative signs → the
    tendering office applies its 合同专用章 → completion (lock + B-LTA).
    """
    from qianshu.signing import documents, stamps

    boxes = documents.page_boxes(pdf)
    pages = len(boxes)
    last = pages - 1
    slices = stamps.cross_page_slices(boxes, list(range(pages)), seal_size_pt=120)
    specs = [
        documents.FieldSpec("supplier-rep", last, stamps.Rect(60, 90, 210, 150)),
        documents.FieldSpec("supplier-seal", last, stamps.Rect(70, 160, 190, 280)),
        documents.FieldSpec("buyer-rep", last, stamps.Rect(330, 90, 480, 150)),
        documents.FieldSpec("tender-seal", last, stamps.Rect(340, 160, 460, 280)),
    ]
    seal = stamps.StampImage.from_png(seal_png)
    signature = stamps.StampImage.from_png(signature_png)
    ts = platform.timestamper
    revisions = [
        # A cross-page seal is made while sealing: the document is not certified (see
        # documents.sign_turn); the completion lock protects it once everyone has signed.
        documents.prepare_document(
            pdf, specs, certifier=platform.certifier, timestamper=ts, certify=False
        )
    ]

    def turn(signer: KeySigner, placements: list[documents.Placement], who: str) -> None:
        revisions.append(
            documents.sign_turn(
                revisions[-1],
                placements,
                signer=signer,
                timestamper=ts,
                details=documents.SignatureDetails(reason=f"{who}签署", location="Qianshu"),
            )
        )

    turn(
        platform.person_signer("张三"),
        [documents.Placement("supplier-rep", signature)],
        "供应商代表",
    )
    turn(
        platform.seal_signer("厦门某某供应链有限公司", SUPPLIER_CODE, "公章"),
        [
            documents.Placement("supplier-seal", seal),
            documents.Placement("supplier-cps", seal, new_widgets=tuple(slices)),
        ],
        "供应商",
    )
    turn(
        platform.person_signer("李四"), [documents.Placement("buyer-rep", signature)], "采购人代表"
    )
    turn(
        platform.seal_signer("某某大学招标办公室", BUYER_CODE, "合同专用章"),
        [documents.Placement("tender-seal", seal)],
        "招标办",
    )
    revisions.append(
        documents.finish_document(
            revisions[-1],
            timestamper=ts,
            revocation=platform.revocation,
            trust_roots=platform.trust_roots,
            locker=platform.certifier,
        )
    )
    return revisions
