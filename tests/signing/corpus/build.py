"""Build the corpus: one file per class, plus what pyHanko and pdfsig say about each.

``python -m tests.signing.corpus OUTDIR`` writes every file, the platform root the files are
signed under (``root.pem``), ``manifest.json`` (the expectations) and ``observed.json``
(what our verifier, pyHanko's validator and poppler's pdfsig said on this run).
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

from qianshu.signing import pki
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.structure import DssMaterial
from qianshu.signing.verify import VerificationReport, verify_pdf
from tests.signing.corpus import overlay_files, structure_files, trust_files
from tests.support import pdfsig

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.json"

Builder = Callable[[EphemeralPlatform], bytes]
BUILDERS: dict[str, Builder] = {
    name: getattr(module, name)
    for module, names in (
        (
            structure_files,
            (
                "linearized_then_signed",
                "linearized_signed_in_place",
                "dss_vri_rewrite",
                "freed_objects",
                "freed_object_in_use",
                "choice_index_change",
                "hybrid_reference",
                "hybrid_reference_conflict",
                "indirect_kids",
                "bogus_field_beside_good",
                "multi_widget_signature",
            ),
        ),
        (
            trust_files,
            (
                "revoked_after_poe",
                "revoked_before_poe",
                "expired_after_poe",
                "stale_validation_data",
                "unprotected_dss_revoked",
                "unprotected_dss_no_upgrade",
                "forged_ocsp_under_doc_timestamp",
                "renewed_archive",
                "copied_signature_timestamp",
                "broken_signature_timestamp",
            ),
        ),
        (
            overlay_files,
            (
                "self_placed_on_blank",
                "self_placed_locked",
                "self_placed_over_text",
                "overlay_after_completion",
                "overlay_before_completion",
                "overlay_after_unlocked_timestamp",
                "invisible_signature_after_completion",
                "field_added_after_completion",
                "signature_after_unlocked_timestamp",
                "renewal_after_completion",
            ),
        ),
    )
    for name in names
}


def manifest() -> dict[str, Any]:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def build_all(platform: EphemeralPlatform) -> dict[str, bytes]:
    return {name: build(platform) for name, build in BUILDERS.items()}


# --- the reference validators -----------------------------------------------------------------


def pyhanko_verdict(data: bytes, platform: EphemeralPlatform) -> str:
    """pyHanko's validator as an integrator would run it: trusting our root, with the
    document's DSS as known validation data, at the current time.

    "valid" when every signature is intact, valid, trusted and within its modification
    policy; "invalid" when one is not intact or not valid or changed beyond its policy;
    otherwise "indeterminate" (including when pyHanko refuses the file).
    """
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        dss = DssMaterial.read(reader)
        verdicts = []
        for sig in reader.embedded_signatures:
            vc = ValidationContext(
                trust_roots=platform.trust_roots,
                other_certs=list(dss.certs),
                ocsps=list(dss.ocsps),
                crls=list(dss.crls),
                allow_fetching=False,
                retroactive_revinfo=True,
            )
            if sig.sig_object_type == "/DocTimeStamp":
                ts = validate_pdf_timestamp(sig, validation_context=vc)
                changed = ts.modification_level in (None, ModificationLevel.OTHER)
                if not (ts.intact and ts.valid) or changed:
                    verdicts.append("invalid")
                else:
                    verdicts.append("valid" if ts.trusted else "indeterminate")
                continue
            status = validate_pdf_signature(sig, vc, vc)
            if not (status.intact and status.valid) or status.docmdp_ok is False:
                verdicts.append("invalid")
            elif status.revoked:
                verdicts.append("invalid")
            elif not status.bottom_line:
                verdicts.append("indeterminate")
            else:
                verdicts.append("valid")
    except Exception:
        return "indeterminate"
    if not verdicts:
        return "indeterminate"
    for verdict in ("invalid", "indeterminate"):
        if verdict in verdicts:
            return verdict
    return "valid"


def pdfsig_verdict(data: bytes, root_pem: bytes, workdir: Path) -> str:
    """poppler's pdfsig with our root trusted (no OCSP): it checks each signature's digest,
    signature and chain, not what later revisions changed, and skips document time-stamps."""
    path = workdir / "file.pdf"
    path.write_bytes(data)
    db = pdfsig.nss_db(workdir, [root_pem])
    result = pdfsig.run_pdfsig(path, db, workdir)
    signed = [
        s
        for s in result.signatures
        if not s.unsigned and s.signature_validation != "Signature has not yet been verified."
    ]
    if not signed:
        return "indeterminate"
    if any(not s.signature_valid for s in signed):
        return "invalid"
    trusted_signers: set[str] = set()
    for s in signed:
        if s.trusted:
            trusted_signers.add(s.signer)
        elif not (
            s.pkix_error == pdfsig.NSS_REUSED_ISSUER_AND_SERIAL and s.signer in trusted_signers
        ):
            return "indeterminate"
    return "valid"


def observe(
    name: str, data: bytes, platform: EphemeralPlatform, workdir: Path | None
) -> dict[str, Any]:
    """What each verifier says about one file."""
    report: VerificationReport = verify_pdf(data, platform.trust)
    observed: dict[str, Any] = {
        "verdict": report.verdict,
        "signatures": {s.field_name: s.verdict for s in report.signatures},
        "levels": {s.field_name: s.pades_level for s in report.signatures if s.pades_level},
        "changes": sorted({c.kind for c in report.changes}),
        "warnings": list(report.warnings),
        "reason": report.reason,
        "pyhanko": pyhanko_verdict(data, platform),
    }
    if workdir is not None:
        root_pem = pki.certificate_pem(platform.pki.root.certificate)
        sub = workdir / name
        sub.mkdir(parents=True, exist_ok=True)
        observed["pdfsig"] = pdfsig_verdict(data, root_pem, sub)
    return observed


def write(outdir: Path) -> None:
    """Build every file into ``outdir`` with the manifest, the root and what was observed."""
    outdir.mkdir(parents=True, exist_ok=True)
    platform = EphemeralPlatform()
    files = build_all(platform)
    (outdir / "root.pem").write_bytes(pki.certificate_pem(platform.pki.root.certificate))
    shutil.copy(MANIFEST, outdir / "manifest.json")
    observed = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            (outdir / f"{name}.pdf").write_bytes(data)
            workdir = Path(tmp) if pdfsig.available() else None
            observed[name] = observe(name, data, platform, workdir)
    (outdir / "observed.json").write_text(
        json.dumps(observed, ensure_ascii=False, indent=2), encoding="utf-8"
    )
