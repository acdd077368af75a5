"""Envelope benchmarks on PostgreSQL (part of ``make bench``).

5. Every list among a million envelopes: benchmarks/lists.py, run in a process of its own.
6. Batch signing of 200 tasks through the batch path (``actions.batch.do_batch_sign``: one PIN, one
   signature per document, each in its own transaction with row locks, blob and audit trail,
   the next signer's and the initiator's messages summarised per person), spread over
   ``QIANSHU_BATCH_PROCESSES`` forked processes, against the signing core's own throughput
   measured in the same run (section 1); also SQL statements per document, and where a step's
   CPU goes (the signature, the SQL calls, the rest of the step, the blob writer, PostgreSQL)
   when as many more are signed in one process.
   ``python -m benchmarks --only batch`` runs section 1 and this section alone (with 6a).
6a. 批量用印 of 200 seal steps in one API call (``api.actions.seals.do_seal_steps``, what
   ``POST /api/v1/envelopes/seal-batch`` runs: each step in its own transaction, spread over
   the same forked processes; one seal field a step, one signature), against the same core
   figure.
6b. 批量发起 of 1,000 rows from a template with two data fields (姓名, 工号): the spreadsheet
   imported and checked, then each row made into an envelope — its values written into the
   page as text — and sent (prepared and certified) by one worker, then by two (as two task
   workers share a batch's send_batch tasks); resident memory.
   (Rows are sent ten to a transaction; each group locks the organisation's 24-hour allowance
   for its bookkeeping only: making each row's document — the data fields — and certifying it
   run before, in parallel with the other worker's.)
   ``python -m benchmarks --only bulk`` runs this section alone.

A throwaway database ``qianshu_bench`` is created on the PostgreSQL server of
``QIANSHU_BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/postgres``) and
dropped afterwards.
"""

from __future__ import annotations

import gc
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks import database, summary

BENCH_DB = "qianshu_bench"


@contextmanager
def _bench_database(section: str) -> Iterator[bool]:
    """A throwaway database ``qianshu_bench`` with Django set up on it for the block; yields
    False (and prints why ``section`` is skipped) when PostgreSQL cannot be reached."""
    try:
        database.reset(BENCH_DB)
    except Exception as exc:
        print(f"{section} skipped: PostgreSQL not reachable ({exc})")
        yield False
        return
    try:
        with tempfile.TemporaryDirectory(prefix="qianshu-bench-") as blobs:
            database.setup_django(BENCH_DB, blobs)
            yield True
    finally:
        from django.db import connections

        connections.close_all()
        database.drop(BENCH_DB)


def batch_bench(count: int) -> dict[str, float]:
    """Documents per second of ``actions.batch.do_batch_sign`` over ``count`` tasks, then SQL
    statements per document of a second batch signed in this process (counted, not timed)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from tests.envelopes.helpers import field
    from tests.support.personas import PIN, make_verified_person

    from qianshu.accounts.actions import do_save_signature
    from qianshu.accounts.signatures import SignatureImage
    from qianshu.core.meta import TASK
    from qianshu.envelopes import batch, compose
    from qianshu.envelopes.actions import batch as batch_actions
    from qianshu.envelopes.actions import compose as compose_actions
    from qianshu.identity.actions import do_set_signing_pin
    from qianshu.pki.actions import do_init_pki
    from qianshu.signing import stamps
    from qianshu.signing.samples import make_test_pdf

    do_init_pki(name="Bench")
    signer = make_verified_person("bench", "13600000001", real_name="批量签署人")
    other = make_verified_person("other", "13600000002", real_name="后续签署人")
    do_set_signing_pin(PIN, actor=signer, meta=TASK)
    png = stamps.render_text_image("批量签署人", height_px=96)
    do_save_signature(SignatureImage.from_png(png), source="drawn", actor=signer, meta=TASK)
    pdf = make_test_pdf(pages=1)
    counted = 15  # below the size a batch is spread over processes at
    for i in range(2 * count + counted):
        envelope = compose_actions.do_create_draft(title=f"考核表 {i}", actor=other, meta=TASK)
        document = compose_actions.do_add_document(
            envelope, pdf, "考核表.pdf", actor=other, meta=TASK
        )
        mine, theirs = compose_actions.do_set_recipients(
            envelope,
            [
                compose.RecipientInput("sign", 1, "批量签署人", signer.phone),
                compose.RecipientInput("sign", 2, "后续签署人", other.phone),
            ],
            actor=other,
        )
        compose_actions.do_set_fields(
            envelope,
            [
                field(document, mine, "signature", 0, (60, 90, 180, 138)),
                field(document, theirs, "signature", 0, (300, 90, 420, 138)),
            ],
            actor=other,
        )
        compose_actions.do_send_envelope(envelope, actor=other, meta=TASK)
    items = batch.pending_items(signer)
    assert len(items) == 2 * count + counted, len(items)
    start = time.perf_counter()
    results = batch_actions.do_batch_sign(items[:count], pin=PIN, actor=signer, meta=TASK)
    elapsed = time.perf_counter() - start
    failed = [r for r in results if not r.ok]
    assert not failed, failed[:3]
    # A small batch is signed in this process, so that its statements can be counted.
    rest = items[count + counted :]
    with CaptureQueriesContext(connection) as queries:
        results = batch_actions.do_batch_sign(
            items[count : count + counted], pin=PIN, actor=signer, meta=TASK
        )
    assert all(r.ok for r in results)
    found = {"rate": count / elapsed, "statements": len(queries.captured_queries) / counted}
    return found | split_cpu(
        lambda: batch_actions.do_batch_sign(rest, pin=PIN, actor=signer, meta=TASK), len(rest)
    )


def seal_batch_bench(count: int) -> dict[str, float]:
    """Steps per second of 批量用印 (``api.actions.seals.do_seal_steps``, what
    ``POST /api/v1/envelopes/seal-batch`` runs) over ``count`` seal steps of envelopes sent
    through the API's own actions — one seal field each (one signature, as the core and 批量签署
    make; a date field would be a second), a person signing after, so that each step routes
    on and holds a message — then SQL statements per step of a small
    call sealed in this process (counted, not timed). Runs after :func:`batch_bench` (its
    platform PKI)."""
    import datetime as dt

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from tests.support.personas import make_verified_org, make_verified_person
    from tests.support.seals import make_seal

    from qianshu.api.actions import envelopes as api_actions
    from qianshu.api.actions.keys import do_create_api_key
    from qianshu.api.actions.seals import do_grant_seal_to_key, do_seal_steps
    from qianshu.api.models import Scope
    from qianshu.api.schemas import EnvelopeIn
    from qianshu.core.meta import TASK
    from qianshu.envelopes.models import Envelope, Recipient
    from qianshu.orgs.models import Seal
    from qianshu.signing.samples import make_test_pdf

    admin = make_verified_person("sealer", "13600000011", real_name="用印管理员")
    signer = make_verified_person("after", "13600000012", real_name="后续签署人")
    org = make_verified_org(admin, name="厦门批量用印有限公司")
    key, _plain = do_create_api_key(
        org, name="合同系统", scopes=[Scope.ENVELOPES_WRITE], actor=admin, meta=TASK
    )
    seal = make_seal(org, admin, kind=Seal.Kind.CONTRACT)
    until = timezone.now() + dt.timedelta(days=1)
    do_grant_seal_to_key(key, seal, valid_until=until, actor=admin, meta=TASK)
    pdf = make_test_pdf(pages=1)
    counted = 15  # below the size a call is spread over processes at
    for i in range(2 * count + counted):
        upload = api_actions.do_upload_document(key, pdf, f"合同{i}.pdf", meta=TASK)
        doc = str(upload.uuid)
        spec = EnvelopeIn.model_validate(
            {
                "title": f"采购合同 {i}",
                "documents": [doc],
                "recipients": [
                    {
                        "role": "seal", "order": 1, "name": org.name, "phone": admin.phone,
                        "org": {"name": org.name, "credit_code": org.credit_code},
                        "fields": [
                            {"type": "seal", "document": doc, "page": 1, "x": 300, "y": 560}
                        ],
                    },
                    {
                        "role": "signer", "order": 2, "name": "后续签署人", "phone": signer.phone,
                        "fields": [
                            {"type": "signature", "document": doc, "page": 1, "x": 60, "y": 600}
                        ],
                    },
                ],
            }
        )  # fmt: skip
        api_actions.do_create_envelope(key, spec, meta=TASK)
    steps: list[Recipient | None] = list(
        Recipient.objects.filter(
            envelope__initiator_org=org, role=Recipient.Role.SEAL, status="pending"
        )
        .select_related("envelope")
        .order_by("pk")
    )
    assert len(steps) == 2 * count + counted, len(steps)
    keys = [f"bench-{i}" for i in range(len(steps))]
    start = time.perf_counter()
    results = do_seal_steps(key, steps[:count], submissions=keys[:count], meta=TASK)
    elapsed = time.perf_counter() - start
    failed = [r for r in results if not r.ok]
    assert not failed, failed[:3]
    small = slice(count, count + counted)
    with CaptureQueriesContext(connection) as queries:
        results = do_seal_steps(key, steps[small], submissions=keys[small], meta=TASK)
    assert all(r.ok for r in results)
    rest = slice(count + counted, None)
    found = {"rate": count / elapsed, "statements": len(queries.captured_queries) / counted}
    found |= split_cpu(
        lambda: do_seal_steps(key, steps[rest], submissions=keys[rest], meta=TASK),
        len(steps[rest]),
    )
    sealed = Envelope.objects.filter(initiator_org=org, recipients__status="done").count()
    assert sealed == len(steps), sealed
    return found


def split_cpu(run: Callable[[], Any], steps: int) -> dict[str, float]:
    """Where a step's CPU time goes, per step, when ``run()`` signs ``steps`` steps in this
    process one after the other (no forked processes, no statement capture; as many as the
    timed batch, so that what a batch does once — the PIN, the summary messages at its end —
    weighs on a step as much as there): the signatures
    (this thread's CPU inside ``documents.sign_turn``), the SQL calls (inside Django's cursor
    execution, from its ``execute_wrapper`` hook, and the commits), the rest of the step's
    Python, other threads (the blob writer), and — when the server runs on this machine —
    the PostgreSQL backend serving this connection (its CPU from ``/proc``). Counted, not
    timed as a rate: it says what the batch ratio is made of."""
    from django.db import connection
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.test import override_settings

    from qianshu.signing import documents

    spent = {"sign": 0.0, "sql": 0.0}

    def timed(key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.thread_time() - start

        return call

    def sql(execute: Callable[..., Any], *args: Any) -> Any:
        return timed("sql", execute)(*args)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    # What this process holds is frozen for the cyclic collector, as a batch's forked processes
    # freeze what they inherit (actions/batch.py): the bench process has made and kept far
    # more than a web process before it, and walking that would be counted in the step.
    gc.freeze()
    sign_turn, commit = documents.sign_turn, BaseDatabaseWrapper.commit
    documents.sign_turn = timed("sign", sign_turn)  # type: ignore[assignment]
    BaseDatabaseWrapper.commit = timed("sql", commit)  # type: ignore[method-assign]
    try:
        with override_settings(QIANSHU_BATCH_PROCESSES=1), connection.execute_wrapper(sql):
            server, thread = _backend_cpu(backend), time.thread_time()
            process = resource.getrusage(resource.RUSAGE_SELF)
            results = run()
            thread = time.thread_time() - thread
            after = resource.getrusage(resource.RUSAGE_SELF)
            server = _backend_cpu(backend) - server if server >= 0 else -1.0
    finally:
        documents.sign_turn, BaseDatabaseWrapper.commit = sign_turn, commit  # type: ignore[method-assign]
        gc.unfreeze()
    assert all(r.ok for r in results)
    total = after.ru_utime + after.ru_stime - process.ru_utime - process.ru_stime
    per = 1000 / steps
    return {
        "sign_ms": spent["sign"] * per,
        "sql_ms": spent["sql"] * per,
        "rest_ms": (thread - spent["sign"] - spent["sql"]) * per,
        "threads_ms": (total - thread) * per,
        "server_ms": server * per if server >= 0 else -1.0,
        "split_steps": float(steps),
    }


def _backend_cpu(pid: int) -> float:
    """CPU seconds of process ``pid`` (a PostgreSQL backend), or -1 when it is not on this
    machine."""
    try:
        with open(f"/proc/{pid}/comm", encoding="ascii") as comm:
            if not comm.read().startswith("postgres"):
                return -1.0  # the server is elsewhere: this pid is another process
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return -1.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _resident_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def bulk_bench(count: int, processes: int = 1, run: int = 0) -> dict[str, float]:
    """批量发起 of ``count`` rows from a template: the XLSX imported and checked, then every
    row made into an envelope and sent (prepared: certified) — rows per second of each phase,
    and the resident memory before and after."""
    import gc
    import io

    from openpyxl import load_workbook
    from tests.envelopes.helpers import Builder, field
    from tests.support.personas import make_signer, make_verified_org

    from qianshu.core.meta import TASK
    from qianshu.doctemplates import bulk
    from qianshu.doctemplates.actions.bulk import do_import_batch, do_start_batch, send_batch_rows
    from qianshu.doctemplates.actions.templates import do_save_template
    from qianshu.doctemplates.snapshots import RoleChoice
    from qianshu.envelopes.actions import compose as compose_actions
    from qianshu.pki.platform import is_initialised

    if not is_initialised():
        from qianshu.pki.actions import do_init_pki

        do_init_pki(name="Bench")
    hr = make_signer(f"hr{run}", f"135000{run:03d}01", real_name="人事处经办")
    employee = make_signer(f"employee{run}", f"135000{run:03d}02", real_name="示例员工")
    org = make_verified_org(hr, name=f"北京千书大学{run or ''}")
    draft = Builder().draft(hr, [("sign", 1, employee), ("seal", 2, org)], org=org, pages=1)
    # Two data fields the sender fills (姓名 and 工号, written into the page as text).
    document, person = draft.documents.get(), draft.recipients.get(role="sign")
    kept = [
        field(document, f.recipient, f.kind, f.page, (f.x1, f.y1, f.x2, f.y2))
        for f in draft.fields.select_related("recipient")
    ]
    texts = [
        field(document, person, "text", 0, (72, 700, 272, 724)),
        field(document, person, "text", 0, (300, 700, 420, 724)),
    ]
    compose_actions.do_set_fields(draft, [*kept, *texts], actor=hr)
    name_field, number_field = draft.fields.filter(kind="text").order_by("x1")
    version = do_save_template(
        draft,
        name="年度考核表",
        choices=[RoleChoice("被考核人", False), RoleChoice("人事处", True)],
        data_fields={
            name_field.pk: {"name": "姓名", "type": "text", "required": True},
            number_field.pk: {"name": "工号", "type": "text", "required": True},
        },
        actor=hr,
        meta=TASK,
    )
    book = load_workbook(io.BytesIO(bulk.workbook(version.roles, "考核", version.data_fields)))
    sheet = book.active
    for i in range(count):
        phone = f"16{run}{i:08d}"
        sheet.append(["", f"员工{i:05d}", phone, "", f"员工{i:05d}", f"HR-{i:05d}"])
    out = io.BytesIO()
    book.save(out)
    before = _resident_mb()
    start = time.perf_counter()
    batch = do_import_batch(version, out.getvalue(), "考核.xlsx", actor=hr)
    checked = time.perf_counter() - start
    assert batch.valid == count, (batch.valid, batch.total)
    do_start_batch(batch, actor=hr)
    start = time.perf_counter()
    if processes == 1:
        # As a worker of its own (see _send_in_child), then the bench's heap as it was.
        gc.freeze()
        try:
            send_batch_rows(batch.pk, meta=TASK)
        finally:
            gc.unfreeze()
    else:
        _in_processes(send_batch_rows, batch.pk, processes)
    elapsed = time.perf_counter() - start
    batch.refresh_from_db()
    assert batch.sent == count, (batch.sent, batch.failed)
    return {
        "check_rate": count / checked,
        "send_rate": count / elapsed,
        "rss_before": before,
        "rss_after": _resident_mb(),
    }


def _in_processes(fn: Any, batch_id: int, processes: int) -> None:
    """``fn(batch_id)`` in ``processes`` forked workers at once, as that many task workers run
    a batch's ``send_batch`` tasks (each with its own database connection)."""
    import multiprocessing

    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_send_in_child, args=(fn, batch_id)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0, worker.exitcode


def _send_in_child(fn: Any, batch_id: int) -> None:
    import gc

    from django.db import connections

    from qianshu.core.meta import TASK

    # A task worker is a process of its own: it does not carry this bench process's heap
    # (sections 1-6), which the cyclic collector would otherwise walk at each collection of
    # the oldest generation (~30 % slower, measured). Frozen, the child walks only its own.
    gc.freeze()
    try:
        fn(batch_id, meta=TASK)
    finally:
        connections.close_all()


#: Section 1's signing core measured again (``benchmarks.__main__.core_rate_now``): takes the
#: number of documents to sign, returns documents per second.
CoreAgain = Callable[[int], float]


def run(core_rate: float, core_again: CoreAgain, *, quick: bool) -> None:
    """Print sections 5 and 6 (skipped when PostgreSQL is not reachable)."""
    from benchmarks import lists

    lists.run_in_child(quick=quick)  # its own process and database
    with _bench_database("6./6b. Envelope benchmarks") as ready:
        if ready:
            _print_paths(core_rate, core_again, quick)
            _print_bulk(quick)


# Section 6 and 6a: the heading, the summary's label, the bench and its unit.
_PATHS: tuple[tuple[str, str, Callable[[int], dict[str, float]], str], ...] = (
    (
        "6. Batch signing of {count} tasks through the batch path "
        "(one PIN, {processes} processes, PostgreSQL)",
        "批量签署 of {count} tasks through the batch path, {processes} processes",
        batch_bench,
        "docs",
    ),
    (
        "6a. 批量用印 of {count} seal steps in one API call "
        "(POST /envelopes/seal-batch's action, {processes} processes, PostgreSQL)",
        "批量用印 of {count} seal steps in one API call, {processes} processes",
        seal_batch_bench,
        "steps",
    ),
)


def _print_paths(core_rate: float, core_again: CoreAgain, quick: bool) -> None:
    """Sections 6 and 6a: each path's rate next to the signing core's, and its row in the
    summary table. The core is also measured again just before each path (the host's speed
    moves in the minutes since section 1; the target stays against section 1's figure)."""
    for path in _PATHS:
        _print_path(*path, core_rate, core_again, quick)


def _print_path(
    heading: str,
    label: str,
    bench: Callable[[int], dict[str, float]],
    unit: str,
    core_rate: float,
    core_again: CoreAgain,
    quick: bool,
) -> None:
    from django.conf import settings

    names = {"count": 20 if quick else 200, "processes": settings.QIANSHU_BATCH_PROCESSES}
    heading, label = heading.format(**names), label.format(**names)
    near = core_again(10 if quick else 150)
    found = bench(names["count"])
    rate = found["rate"]
    per = "document" if unit == "docs" else "step"
    print(heading)
    print(f"   {unit + '/s':12s}{rate:8.1f}   (target >= 100 on 2 cores)")
    print(f"   signing core{core_rate:8.1f} docs/s   (baseline: section 1, same run)")
    print(f"   ratio       {rate / core_rate:8.2f}    (target >= 0.7 of the core)")
    print(f"   signing core measured again just before: {near:.1f} docs/s, ratio {rate / near:.2f}")
    print(f"   SQL statements per {per} {found['statements']:.1f}")
    _print_split(found, near, core_rate)
    print()
    summary.record(
        label,
        f"{rate:.0f} {unit}/s ({rate / core_rate:.2f} of the core, {rate / near:.2f} of it "
        f"measured again just before; {found['statements']:.1f} SQL statements per {per})",
        baseline=f"signing core, one core: {core_rate:.0f} docs/s",
        target=f"≥ 0.7 of the core and ≥ 100 {unit}/s",
        met=rate >= 0.7 * core_rate and rate >= 100,
    )


def _print_split(found: dict[str, float], near: float, core_rate: float) -> None:
    """Where a step's CPU goes (:func:`split_cpu`), against the core's own signature and what
    the target leaves for a whole step on this machine's cores."""
    parts = [
        ("signature", found["sign_ms"]),
        ("SQL calls", found["sql_ms"]),
        ("rest of the step", found["rest_ms"]),
        ("other threads", found["threads_ms"]),
    ]
    if found["server_ms"] >= 0:
        parts.append(("PostgreSQL backend", found["server_ms"]))
    total = sum(ms for _, ms in parts)
    cores = os.cpu_count() or 1
    print(f"   CPU of a step ({found['split_steps']:.0f} more, signed in one process), ms:")
    print("     " + ", ".join(f"{name} {ms:.2f}" for name, ms in parts) + f"; total {total:.2f}")
    print(
        f"     the core's whole signature {1000 / near:.2f} (measured just before); "
        f"0.7 of the core leaves {cores * 1000 / (0.7 * core_rate):.2f} of the {cores} cores"
    )


def run_batch(core_rate: float, core_again: CoreAgain, *, quick: bool) -> None:
    """Print sections 6 and 6a alone (``--only batch``, after section 1)."""
    with _bench_database("6. Batch signing") as ready:
        if ready:
            _print_paths(core_rate, core_again, quick)


def _print_bulk(quick: bool) -> None:
    rows = 50 if quick else 1000
    sent = bulk_bench(rows)
    two = bulk_bench(rows, processes=2, run=1)
    print(f"6b. 批量发起 of {rows:,} rows from a template with two data fields (PostgreSQL)")
    print(f"   import and check {sent['check_rate']:8.1f} rows/s")
    print(
        f"   create and send  {sent['send_rate']:8.1f} envelopes/s with one worker, "
        f"{two['send_rate']:.1f} with two   (target >= 50/s on 2 cores)"
    )
    print(
        f"   resident memory  {sent['rss_before']:8.1f} MB before, "
        f"{sent['rss_after']:.1f} MB after   (target < 500 MB)"
    )
    print()
    rss = max(sent["rss_after"], two["rss_after"])
    summary.record(
        f"批量发起 of {rows:,} rows, two data fields, 1 / 2 workers",
        f"{sent['send_rate']:.1f} / {two['send_rate']:.1f} envelopes/s; "
        f"check {sent['check_rate']:,.0f} rows/s; RSS {rss:.0f} MB",
        baseline=f"1 worker: {sent['send_rate']:.1f}/s",
        target="≥ 50 envelopes/s on 2 cores, RSS < 500 MB",
        met=two["send_rate"] >= 50 and rss < 500,
    )


def run_bulk(*, quick: bool) -> None:
    """Print section 6b alone (``--only bulk``)."""
    with _bench_database("6b. Bulk sending") as ready:
        if ready:
            _print_bulk(quick)
