"""``make bench``: signing and verification throughput, measured against baselines in-process.

Prints, from one run:
  1. signing throughput of our core (1-page PDF, visible seal, PAdES B-T with the in-process
     TSA) against stock pyHanko (SimpleSigner, PdfImage stamp, DummyTimeStamper) doing the same,
     on one core;
  2. batch signing of N documents (default 1,000) with a process per core;
  3. verification as a user sees it: ``qianshu verify`` as a whole process against poppler's
     pdfsig (one process per file) on the document from (1) and on the 9-signature B-LTA
     procurement contract, text and --json; and in-process verification of the contract
     against pdfsig (benchmarks/verification.py);
  4. peak RSS of this process and of the batch workers.
  5. every list, search and count of a user and of an organisation among 1,000,000 envelopes
     and 5,000,000 recipients on PostgreSQL (server time/request, each plan checked for
     sequential scans; benchmarks/lists.py);
  6. batch signing of 200 envelope tasks through the batch path, against (1) from the same run
     (``--only batch`` runs 1 and 6);
  7. 印章制作, 批量签署 and 发起签署 on a cold load: server time of the first request in a fresh
     process and of the requests after it, against the embedded defaults (benchmarks/pages.py);
     gunicorn's start-up until its first answer, and a walk through every page on the demo
     data, the ten slowest printed (benchmarks/walk.py).
  8. ``GET /api/v1/envelopes/{id}`` under gunicorn on 2 cores loaded by ``ab``, and webhook
     delivery throughput to a receiver on loopback (benchmarks/api.py).
  9. Scale-out: the deploy/ topology as local processes (2 web processes, 1 then 2 workers,
     the timers, PostgreSQL, moto's S3 server): completed envelopes per second, and a worker
     killed mid-run with nothing lost or done twice (benchmarks/scaleout.py).
Targets: >= 4x stock per core, >= 60 documents/s for the batch on 2 cores, verification at
least as fast as pdfsig in process, qianshu verify under 0.3 s (1 signature) and 0.5 s (9),
peak RSS under 500 MB, every list under 50 ms (p95), the batch path >= 0.7 of the core and
>= 100/s, each page under 300 ms, the web process answering within 2 s of its start,
the API >= 500 req/s with p99 < 50 ms, webhooks >= 200 events/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import serialization
from PIL import Image
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers as hsigners
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from benchmarks import summary, verification
from qianshu.signing import documents, hierarchy, install_speedups, seals, stamps
from qianshu.signing.ephemeral import EphemeralPlatform, procurement_contract
from qianshu.signing.keys import SoftwareSigningKey, generate_private_key
from qianshu.signing.samples import make_test_pdf
from qianshu.signing.signers import to_asn1
from qianshu.signing.verify import verify_pdf

FIELD = "seal"
RECT = stamps.Rect(380, 60, 530, 210)
CREDIT_CODE = "91350100M000100Y43"


def rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def base_document() -> bytes:
    """A 1-page contract with one declared, empty signature field."""
    pdf = make_test_pdf(pages=1)
    return documents.declare_fields(pdf, [documents.FieldSpec(FIELD, 0, RECT)])


def seal_png() -> bytes:
    return seals.render_round_seal(
        seals.RoundSealSpec(
            org_name="厦门某某科技有限公司", seal_name="合同专用章", code="3502000012345"
        )
    )


class Ours:
    def __init__(self, platform: EphemeralPlatform, png: bytes) -> None:
        self.signer = platform.seal_signer("厦门某某科技有限公司", CREDIT_CODE, "合同专用章")
        self.timestamper = platform.timestamper
        self.image = stamps.StampImage.from_png(png)  # encoded once, reused

    def sign(self, data: bytes) -> bytes:
        return documents.sign_turn(
            data,
            [documents.Placement(FIELD, self.image)],
            signer=self.signer,
            timestamper=self.timestamper,
        )


class Stock:
    """What a straightforward pyHanko integration does: same key, same seal, same field."""

    def __init__(self, platform: EphemeralPlatform, png: bytes) -> None:
        key = generate_private_key("ec-p256")
        signer = platform.seal_signer(
            "厦门某某科技有限公司", CREDIT_CODE, "合同专用章", SoftwareSigningKey(key)
        )
        self.cert = signer.signing_cert
        self.key = asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.registry = SimpleCertificateStore.from_certs([to_asn1(c) for c in platform.pki.chain])
        # pyHanko's in-process TSA (DummyTimeStamper) only signs with RSA keys.
        tsa_key = SoftwareSigningKey(generate_private_key("rsa-2048"))
        tsa = hierarchy.issue_tsa_certificate(
            platform.name,
            platform.pki.issuing,
            tsa_key,
            platform.urls,
            lifetime=dt.timedelta(days=365),
        )
        self.timestamper = DummyTimeStamper(
            tsa_cert=to_asn1(tsa.certificate),
            tsa_key=asn1_keys.PrivateKeyInfo.load(
                tsa_key.private_key.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            ),
            certs_to_embed=SimpleCertificateStore.from_certs(
                [to_asn1(platform.pki.issuing.certificate)]
            ),
        )
        self.image = Image.open(io.BytesIO(png))
        self.image.load()

    def sign(self, data: bytes) -> bytes:
        signer = hsigners.SimpleSigner(self.cert, self.key, self.registry)
        style = StaticStampStyle(
            background=PdfImage(self.image), border_width=0, background_opacity=1
        )
        meta = hsigners.PdfSignatureMetadata(
            field_name=FIELD, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
        )
        out = hsigners.PdfSigner(
            meta, signer, timestamper=self.timestamper, stamp_style=style
        ).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)))
        return out.getvalue()


def rate(fn, data: bytes, n: int) -> tuple[float, bytes]:  # type: ignore[no-untyped-def]
    out = fn(data)  # warm-up
    start = time.perf_counter()
    for _ in range(n):
        out = fn(data)
    return n / (time.perf_counter() - start), out


def core_rate_now(n: int) -> float:
    """Section 1's figure measured again now, for a section that runs long after it while the
    host's speed moves: in a forked child with what this process holds frozen for the cyclic
    collector, as the batch path's own children are. This process's database connections are
    closed first (when Django is set up): the child must not share their sockets."""
    import gc
    import multiprocessing

    from django.conf import settings

    if settings.configured:
        from django.db import connections

        connections.close_all()
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def measure() -> None:
        gc.freeze()
        sender.send(rate(Ours(EphemeralPlatform(), seal_png()).sign, base_document(), n)[0])

    child = context.Process(target=measure)
    child.start()
    sender.close()  # the child's end only: a child that dies unheard ends the wait below
    try:
        measured: float | None = float(receiver.recv())
    except EOFError:
        measured = None
    child.join()
    if measured is None:
        raise RuntimeError(f"measuring the core again failed (exit code {child.exitcode})")
    return measured


# --- batch: one platform signer per worker process -------------------------------------------
_worker: Ours | None = None
_worker_doc = b""


def _init_worker(png: bytes, doc: bytes) -> None:
    global _worker, _worker_doc
    _worker = Ours(EphemeralPlatform(), png)
    _worker_doc = doc


def _sign_one(_: int) -> int:
    assert _worker is not None
    return len(_worker.sign(_worker_doc))


def batch(png: bytes, doc: bytes, count: int, workers: int) -> float:
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(png, doc)) as pool:
        list(pool.map(_sign_one, range(workers * 2)))  # start-up and warm-up
        start = time.perf_counter()
        sizes = list(pool.map(_sign_one, range(count), chunksize=8))
        elapsed = time.perf_counter() - start
    assert len(sizes) == count and min(sizes) > len(doc)
    return count / elapsed


def _contracts(platform: EphemeralPlatform, png: bytes, count: int) -> list[bytes]:
    """The finished 9-signature procurement contract, ``count`` times (new signers each)."""
    return [
        procurement_contract(
            platform,
            make_test_pdf(pages=3),
            seal_png=png,
            signature_png=stamps.render_text_image("张三"),
        )[-1]
        for _ in range(count)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--docs", type=int, default=1000, help="documents in the batch")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument(
        "--only",
        choices=["pages", "api", "verification", "bulk", "batch", "lists", "scaleout"],
        help=(
            "run section 7 (pages), 8 (api), 9 (scale-out), 3 (verification), 6b (bulk "
            "sending) or 5 (lists among a million envelopes) alone, or 1 then 6 (batch: the "
            "batch path against the signing core)"
        ),
    )
    args = parser.parse_args(argv)
    if args.only == "verification":
        install_speedups()
        platform = EphemeralPlatform()
        png = seal_png()
        one = Ours(platform, png).sign(base_document())
        contracts = _contracts(platform, png, 4)
        verification.run(platform, one, contracts[0], quick=args.quick, others=contracts[1:])
        return 0
    if args.only == "lists":
        from benchmarks import lists

        return lists.run(quick=args.quick)
    if args.only == "bulk":
        from benchmarks import envelopes

        install_speedups()  # as the platform does at start-up
        envelopes.run_bulk(quick=args.quick)
        return 0
    if args.only == "batch":
        from benchmarks import envelopes

        install_speedups()
        platform = EphemeralPlatform()
        ours_rate, _pdf = rate(
            Ours(platform, seal_png()).sign, base_document(), 10 if args.quick else 150
        )
        print("1. Signing, one core (1-page PDF, visible seal, PAdES B-T, in-process TSA)")
        print(f"   ours         {ours_rate:8.1f} docs/s")
        print()
        envelopes.run_batch(ours_rate, core_rate_now, quick=args.quick)
        print(
            f"   peak RSS     {rss_mb():8.1f} MB this process, "
            f"{rss_mb(resource.RUSAGE_CHILDREN):.1f} MB largest child   (target < 500 MB)"
        )
        return 0
    if args.only:
        from benchmarks import api, pages, scaleout

        {"pages": pages, "api": api, "scaleout": scaleout}[args.only].run(quick=args.quick)
        return 0
    install_speedups()  # as the platform does at start-up (CoreConfig.ready, qianshu verify)
    n_ours, n_stock = (10, 3) if args.quick else (150, 30)
    cores = os.cpu_count() or 1

    platform = EphemeralPlatform()
    png = seal_png()
    doc = base_document()
    print(f"Qianshu benchmarks — {cores} cores, Python {sys.version.split()[0]}")
    print()

    ours_rate, ours_pdf = rate(Ours(platform, png).sign, doc, n_ours)
    stock_rate, _ = rate(Stock(platform, png).sign, doc, n_stock)
    assert verify_pdf(ours_pdf, platform.trust).verdict == "valid"
    print("1. Signing, one core (1-page PDF, visible seal, PAdES B-T, in-process TSA)")
    print(f"   ours         {ours_rate:8.1f} docs/s")
    print(f"   stock pyHanko{stock_rate:8.1f} docs/s")
    print(f"   ratio        {ours_rate / stock_rate:8.2f}x   (target >= 4x)")
    print()
    summary.record(
        "signing core, one core (1-page PDF, visible seal, PAdES B-T)",
        f"{ours_rate:.0f} docs/s ({ours_rate / stock_rate:.1f}× stock)",
        baseline=f"stock pyHanko {stock_rate:.0f} docs/s",
        target="≥ 4× stock",
        met=ours_rate >= 4 * stock_rate,
    )

    batch_rate = batch(png, doc, 20 if args.quick else args.docs, cores)
    print(f"2. Batch signing of {20 if args.quick else args.docs} documents, {cores} processes")
    print(f"   ours         {batch_rate:8.1f} docs/s   (target >= 60 docs/s on 2 cores)")
    print()
    summary.record(
        f"signing core, batch with {cores} processes",
        f"{batch_rate:.0f} docs/s",
        baseline=f"one core: {ours_rate:.0f} docs/s",
        target="≥ 60 docs/s on 2 cores",
        met=batch_rate >= 60,
    )

    contracts = _contracts(platform, png, 4)
    verification.run(platform, ours_pdf, contracts[0], quick=args.quick, others=contracts[1:])
    print("4. Peak RSS")
    print(f"   this process {rss_mb():8.1f} MB")
    print(f"   largest child{rss_mb(resource.RUSAGE_CHILDREN):8.1f} MB   (target < 500 MB)")
    print()
    peak = max(rss_mb(), rss_mb(resource.RUSAGE_CHILDREN))
    summary.record(
        "peak RSS, bench process / batch workers (sections 1-3)",
        f"{rss_mb():.0f} / {rss_mb(resource.RUSAGE_CHILDREN):.0f} MB",
        target="< 500 MB",
        met=peak < 500,
    )
    from benchmarks import envelopes

    envelopes.run(ours_rate, core_rate_now, quick=args.quick)
    from benchmarks import pages

    pages.run(quick=args.quick)
    from benchmarks import api

    api.run(quick=args.quick)
    from benchmarks import scaleout

    scaleout.run(quick=args.quick)
    return 0


def run_and_summarise(argv: list[str] | None = None) -> int:
    """``main``, then the closing table of every target next to its baseline."""
    code = main(argv)
    summary.print_summary()
    return code


if __name__ == "__main__":
    raise SystemExit(run_and_summarise())
