"""Run poppler's ``pdfsig`` against a PDF with a given trusted root, and parse what it says.

The platform root goes into a fresh NSS database (``certutil``). On poppler 22.12 a small
LD_PRELOAD shim (``nss_verify_shim.c``, compiled on first use with gcc) fixes pdfsig's reading
of a stale NSS error code; see the comment in the C file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
# SEC_ERROR_REUSED_ISSUER_AND_SERIAL: poppler imports the signer certificate of every signature
# as a temporary NSS certificate; verifying a second signature made with the same certificate
# in one pdfsig run trips over the first import (a poppler quirk, see SIGNING-NOTES).
NSS_REUSED_ISSUER_AND_SERIAL = -8054


def available() -> bool:
    return all(shutil.which(tool) for tool in ("pdfsig", "certutil", "gcc"))


def _shim(workdir: Path) -> Path:
    out = workdir / "nss_verify_shim.so"
    if not out.exists():
        subprocess.run(
            ["gcc", "-shared", "-fPIC", "-o", str(out), str(HERE / "nss_verify_shim.c"), "-ldl"],
            check=True,
            capture_output=True,
        )
    return out


def nss_db(workdir: Path, roots_pem: list[bytes]) -> Path:
    db = workdir / "nssdb"
    if db.exists():
        shutil.rmtree(db)
    db.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True)
    for i, pem in enumerate(roots_pem):
        path = workdir / f"root{i}.pem"
        path.write_bytes(pem)
        subprocess.run(
            [
                "certutil",
                "-A",
                "-d",
                f"sql:{db}",
                "-n",
                f"root{i}",
                "-t",
                "CT,C,C",
                "-i",
                str(path),
            ],
            check=True,
        )
    return db


@dataclass
class PdfsigSignature:
    field_name: str = ""
    signer: str = ""
    signature_validation: str = ""
    certificate_validation: str = ""
    whole_document: bool | None = None
    pkix_error: int | None = None
    unsigned: bool = False

    @property
    def signature_valid(self) -> bool:
        return self.signature_validation == "Signature is Valid."

    @property
    def trusted(self) -> bool:
        return self.certificate_validation == "Certificate is Trusted."


@dataclass
class PdfsigResult:
    returncode: int
    output: str
    signatures: list[PdfsigSignature] = field(default_factory=list)


def run_pdfsig(pdf: Path, db: Path, workdir: Path) -> PdfsigResult:
    env = {"LD_PRELOAD": str(_shim(workdir)), "PATH": "/usr/bin:/bin", "HOME": str(workdir)}
    proc = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{db}", "-no-ocsp", str(pdf)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    result = PdfsigResult(proc.returncode, proc.stdout + proc.stderr)
    errors = [int(m) for m in re.findall(r"qianshu-shim: PKIX error (-?\d+)", proc.stderr)]
    current: PdfsigSignature | None = None
    for line in proc.stdout.splitlines():
        line = line.strip()
        if re.match(r"Signature #\d+:", line):
            current = PdfsigSignature()
            result.signatures.append(current)
        elif current is None:
            continue
        elif line.startswith("- Signature Field Name:"):
            current.field_name = line.split(":", 1)[1].strip()
        elif line.startswith("- Signer Certificate Common Name:"):
            current.signer = line.split(":", 1)[1].strip()
        elif line.startswith("- Signature Validation:"):
            current.signature_validation = line.split(":", 1)[1].strip()
        elif line.startswith("- Certificate Validation:"):
            current.certificate_validation = line.split(":", 1)[1].strip()
            if not current.trusted and errors:
                current.pkix_error = errors.pop(0)
        elif line.startswith("The signature form field is not signed"):
            current.unsigned = True
        elif line.startswith("- Total document signed"):
            current.whole_document = True
        elif line.startswith("- Not total document signed"):
            current.whole_document = False
    return result


def assert_all_trusted(result: PdfsigResult, *, skip_doc_timestamps: bool = True) -> None:
    """Every signature verifies and its certificate is trusted.

    A signature whose certificate was already reported trusted earlier in the same run may
    instead show NSS's reused-issuer-and-serial error (poppler quirk, see above); anything
    else fails.
    """
    trusted_signers: set[str] = set()
    assert result.signatures, result.output
    assert any(not sig.unsigned for sig in result.signatures), result.output
    for sig in result.signatures:
        if sig.unsigned:
            continue  # a declared field still waiting for its signer
        if skip_doc_timestamps and sig.signature_validation == (
            "Signature has not yet been verified."
        ):
            # pdfsig does not check document timestamps; pyHanko and our verifier do.
            continue
        assert sig.signature_valid, f"{sig.field_name}: {sig.signature_validation}\n{result.output}"
        if sig.trusted:
            trusted_signers.add(sig.signer)
            continue
        assert sig.pkix_error == NSS_REUSED_ISSUER_AND_SERIAL and sig.signer in trusted_signers, (
            f"{sig.field_name}: {sig.certificate_validation} (NSS {sig.pkix_error})\n"
            + result.output
        )
