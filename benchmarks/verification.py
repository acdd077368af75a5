"""Verification benchmarks (section 3 of ``make bench``): speed as a user sees it.

* Whole process: ``qianshu verify FILE`` (the console script, no Django) against poppler's
  ``pdfsig`` as a process per file, for a one-signature B-T file and the 9-signature B-LTA
  procurement contract (the fixture of tests/signing/test_contract_flow.py), text and
  ``--json``. Targets: under 0.3 s and 0.5 s, ``--json`` no slower than text.
* In a long-running process: ``verify_pdf`` on the 9-signature contract against ``pdfsig``
  per file. Target: at least as fast. A verifier process sees different files, so the same
  figure is also given for several contracts of the same platform (other signers,
  certificates, OCSP responses and time-stamps; the same CA certificates) verified in turn:
  whatever the verifier keeps from one call to the next shows as a gap between the two.
  The page and the API verify in a limited child process (``verify_pdf_limited``): that figure
  is printed too (not a target; it adds the fork and the child's cold start to the above).

Each figure is the median of several runs; ratios are against ``pdfsig`` in the same run.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import summary
from qianshu.signing import pki
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.verify import verify_pdf, verify_pdf_limited


def _median_seconds(run: Callable[[], object], n: int) -> float:
    run()  # warm-up (page cache, bytecode)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _qianshu_command() -> list[str]:
    script = Path(sys.executable).with_name("qianshu")
    return [str(script)] if script.exists() else [sys.executable, "-m", "qianshu"]


class _Pdfsig:
    """pdfsig with our root in a fresh NSS database (no OCSP), one process per file."""

    def __init__(self, workdir: Path, root_pem: bytes) -> None:
        (workdir / "root.pem").write_bytes(root_pem)
        self.db = f"sql:{workdir / 'nss'}"
        (workdir / "nss").mkdir()
        subprocess.run(["certutil", "-N", "-d", self.db, "--empty-password"], check=True)
        subprocess.run(
            ["certutil", "-A", "-d", self.db, "-n", "root", "-t", "CT,C,C", "-i",
             str(workdir / "root.pem")],
            check=True,
        )  # fmt: skip

    def __call__(self, path: Path) -> None:
        cmd = ["pdfsig", "-nssdir", self.db, "-no-ocsp", str(path)]
        subprocess.run(cmd, capture_output=True, check=False)


def run(
    platform: EphemeralPlatform,
    one: bytes,
    contract: bytes,
    *,
    quick: bool,
    others: Sequence[bytes] = (),
) -> None:
    n_process, n_inprocess = (3, 3) if quick else (15, 30)
    have_pdfsig = bool(shutil.which("pdfsig") and shutil.which("certutil"))
    env = dict(os.environ, QIANSHU_DATA_DIR=tempfile.mkdtemp(prefix="qs-bench-"))
    # As installed for users: compiled bytecode is written once and reused.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    print("3. Verification as a user sees it (median seconds per file)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root_pem = pki.certificate_pem(platform.pki.root.certificate)
        (work / "root.pem").write_bytes(root_pem)
        (work / "pdfsig").mkdir()
        pdfsig = _Pdfsig(work / "pdfsig", root_pem) if have_pdfsig else None
        command = _qianshu_command()
        for label, data, target in (
            ("1 signature, B-T       ", one, 0.3),
            ("9 signatures, B-LTA    ", contract, 0.5),
        ):
            path = work / f"{label.split(',')[0].replace(' ', '-')}.pdf"
            path.write_bytes(data)
            report = verify_pdf(data, platform.trust)
            assert report.verdict == "valid", report.reason
            base = [*command, "verify", str(path), "--trust", str(work / "root.pem")]
            text = _median_seconds(
                lambda b=base: subprocess.run(b, capture_output=True, env=env, check=True),
                n_process,
            )
            as_json = _median_seconds(
                lambda b=base: subprocess.run(
                    [*b, "--json"], capture_output=True, env=env, check=True
                ),
                n_process,
            )
            theirs = _median_seconds(lambda p=path: pdfsig(p), n_process) if pdfsig else None
            line = (
                f"   {label} qianshu verify {text:5.3f} s, --json {as_json:5.3f} s "
                f"(target < {target} s)"
            )
            if theirs is not None:
                line += f"; pdfsig {theirs:5.3f} s, ratio {text / theirs:5.1f}x"
            print(line)
            summary.record(
                f"`qianshu verify`, whole process, {label.strip()} (text / --json)",
                f"{text:.3f} / {as_json:.3f} s",
                baseline=f"pdfsig {theirs:.3f} s" if theirs is not None else "",
                target=f"< {target} s",
                met=max(text, as_json) < target,
            )
        in_process = _median_seconds(lambda: verify_pdf(contract, platform.trust), n_inprocess)
        line = f"   in process, 9 signatures: {in_process:5.3f} s per file"
        if pdfsig is not None:
            contract_path = work / "9-signatures.pdf"
            theirs = _median_seconds(lambda: pdfsig(contract_path), n_process)
            line += f"; pdfsig {theirs:5.3f} s per process, ratio {theirs / in_process:4.2f}"
            line += " (target >= 1: at least as fast as pdfsig)"
            summary.record(
                "verification in a long-running process, the 9-signature contract",
                f"{in_process:.3f} s per file ({theirs / in_process:.2f}× pdfsig)",
                baseline=f"pdfsig {theirs:.3f} s per process",
                target="≥ 1× pdfsig",
                met=theirs >= in_process,
            )
        print(line)
        limited = _median_seconds(
            lambda: verify_pdf_limited(contract, platform.trust), max(3, n_inprocess // 3)
        )
        print(f"   in a limited child (the page, the API), 9 signatures: {limited:5.3f} s per file")
        if others:
            files = [contract, *others]
            for data in others:
                assert verify_pdf(data, platform.trust).verdict == "valid"
            turn = iter(range(1 << 30))
            different = _median_seconds(
                lambda: verify_pdf(files[next(turn) % len(files)], platform.trust), n_inprocess
            )
            line = (
                f"   in process, {len(files)} different 9-signature contracts in turn: "
                f"{different:5.3f} s per file"
            )
            if pdfsig is not None:
                line += f"; ratio {theirs / different:4.2f}"
            print(line)
    print()
