"""``qianshu verify FILE``: verify a PDF from the command line, without starting Django.

The ``qianshu`` console script hands ``verify`` to :func:`main` before it imports Django:
trust roots come from :mod:`qianshu.verification.roots`, the verification from
:func:`qianshu.signing.verify.verify_pdf_limited` (the same function the verification page
and the API call, in a child process with CPU and memory limits).

Exit status: 0 valid, 1 invalid, 2 cannot be validated (or the file cannot be read).

To start fast, pyHanko's validation modules are loaded without the package initialiser of
``pyhanko.sign``, which imports the whole signing API (and with it an HTTP client library);
verification uses none of it. Modules only some runs need (``json`` for ``--json``, SQLite
for a platform database) are imported where they are used. Nothing here opens a network
connection.

Start-up is mostly importing pyHanko, asn1crypto and ``cryptography`` (some 450 modules).
As a process of its own (the console script, :mod:`qianshu.__main__`), the command imports
them with the cyclic garbage collector off and then freezes what they created
(:func:`gc.freeze`): every object of an import lives until the process ends, so collecting
them finds nothing, and a frozen object is neither traversed again by the collections of the
verification, nor by the final ones at exit, nor copied into the limited child by them.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from qianshu.signing.verdicts import TrustSettings, VerificationReport

EXIT_CODES = {"valid": 0, "invalid": 1, "indeterminate": 2}
_GREEN, _RED, _RESET = "\033[32;1m", "\033[31;1m", "\033[0m"


def _load_validation_without_signing_api() -> None:
    """Register ``pyhanko.sign`` as a bare package (submodules import as usual).

    Its ``__init__`` only re-exports the signing API; skipping it halves start-up time. When
    something already imported it (a long-running process), this does nothing.
    """
    if "pyhanko.sign" in sys.modules:
        return
    import pyhanko

    spec = importlib.util.find_spec("pyhanko.sign")
    if spec is None or spec.submodule_search_locations is None:
        return
    package = importlib.util.module_from_spec(spec)
    sys.modules["pyhanko.sign"] = package
    pyhanko.sign = package  # type: ignore[attr-defined]


def render(report: VerificationReport, *, as_json: bool, color: bool = False) -> str:
    """The report as text (first line coloured on a terminal) or as JSON."""
    from qianshu.signing.verify import VALID, format_report

    if as_json:
        import json

        return json.dumps(report.to_dict(), ensure_ascii=False, indent=2)
    text = format_report(report)
    if not color:
        return text
    first, _, rest = text.partition("\n")
    style = _GREEN if report.verdict == VALID else _RED
    return style + first + _RESET + ("\n" + rest if rest else "")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qianshu verify",
        description="Verify the signatures of a PDF (ours or any other). Exit status: "
        "0 valid, 1 invalid, 2 cannot be validated.",
    )
    parser.add_argument("file", help="the PDF to verify ('-' reads standard input)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--trust", metavar="PEM", help="also trust the root certificates in this PEM bundle"
    )
    return parser


def _trust(extra_path: str | None) -> TrustSettings:
    from asn1crypto import x509 as asn1_x509

    from qianshu.signing.verdicts import TrustSettings
    from qianshu.verification import roots

    ders = roots.trust_roots_der(extra_path)
    return TrustSettings(roots=tuple(asn1_x509.Certificate.load(d) for d in ders))


def load_verifier() -> None:
    """Import the verifier (pyHanko's validation modules without its signing API) and
    install the speed-ups. Idempotent; :func:`main` calls it."""
    _load_validation_without_signing_api()
    # pyHanko logs every certificate it cannot validate; the report says it once, clearly.
    for logger in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(logger).setLevel(logging.CRITICAL)
    from qianshu.signing import install_speedups
    from qianshu.signing.verify import verify_pdf_limited  # noqa: F401 - the bulk of start-up

    install_speedups()


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    with open(name, "rb") as file:
        return file.read()


def main(argv: list[str] | None = None, *, stdout: TextIO | None = None) -> int:
    """Run ``qianshu verify``; returns the exit status."""
    args = _parser().parse_args(argv)
    out = stdout or sys.stdout
    name = args.file
    try:
        data = _read(name)
    except OSError as exc:
        print(f"qianshu verify: cannot read {name}: {exc.strerror}", file=sys.stderr)
        return 2
    load_verifier()
    from qianshu.signing.verify import verify_pdf_limited
    from qianshu.verification.roots import RootsError, UnsupportedDatabase

    try:
        trust = _trust(args.trust)
    except (RootsError, UnsupportedDatabase) as exc:
        print(f"qianshu verify: {exc}", file=sys.stderr)
        return 2
    report = verify_pdf_limited(data, trust)
    print(render(report, as_json=args.json, color=out.isatty()), file=out)
    return EXIT_CODES[report.verdict]


if __name__ == "__main__":
    raise SystemExit(main())
