"""Scale-out (section 9 of ``make bench``): the many-machines topology of ``deploy/`` as local
processes, on PostgreSQL and an S3 server.

Started on 127.0.0.1: the running PostgreSQL server (a throwaway database
``qianshu_bench_scaleout``), moto's S3 server (the blob store, ``QIANSHU_STORAGE=s3``), two
web processes (gunicorn with ``deploy/gunicorn.conf.py``, one worker of 4 threads each, as two
machines would run them), ``qianshu envelope-timers --loop`` and ``qianshu db_worker``
processes, and a webhook receiver (a thread of this process).

Each run sends N envelopes through the open API over HTTP, alternating between the two web
processes (4 client threads): upload the PDF, create the envelope (one seal step of the
organisation, sent at once) on one web process, seal it with the key's seal (API 用印) on the
other. The workers do the rest: the completion (B-LTA, the signed evidence report), the SMS and
the webhooks (``envelope.sent``, ``envelope.completed``). So that the workers are measured, they
wait (SIGSTOP, between jobs) while the envelopes are sent, then drain the queue: completed
envelopes per second with 1 worker, then with 2, and how many jobs ran at once on average
(the time spent in jobs over the wall-clock time). The timers are not running then: they would
complete envelopes left waiting for two minutes themselves.

The kill run: 2 workers and the timers running while N more envelopes are sent; once a quarter
of them is sealed, a worker is killed (SIGKILL) while it runs a completion; the timers queue
that job again when its lease (``QIANSHU_TASK_LEASE_SECONDS``, 10 s here) runs out and the
other worker finishes it. Checked from the database afterwards: every envelope completed,
exactly one completion event, one evidence report and one webhook message per event and
envelope, the killed worker's completion run again by the other worker, no job left queued,
running or failed, no SMS twice; and the receiver counts each webhook-id it got. Then the peak
RSS of every process (VmHWM).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks import database, summary

DB = "qianshu_bench_scaleout"
ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
LEASE_SECONDS = 10
CLIENTS = 4
RUN_TIMEOUT = 900.0  # seconds: a run that does not finish by then fails
S3_KEYS = {"QIANSHU_S3_ACCESS_KEY": "bench-access", "QIANSHU_S3_SECRET_KEY": "bench-secret"}
BUCKET = "qianshu-bench"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(check: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:  # not answering yet (connection refused, 5xx)
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready within {timeout:.0f} s")
        time.sleep(0.3)


def _peak_rss_mb(pid: int) -> float:
    """VmHWM of a live process (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


# --- the processes ---------------------------------------------------------------------------


@dataclass
class Topology:
    """Every child process, by name; all of them are killed on exit, whatever happened."""

    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    peaks: dict[str, float] = field(default_factory=dict)
    log_dir: Path = Path()

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "wb")  # the child keeps its own copy
        proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs[name] = proc
        return proc

    def qianshu(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self.start(name, sys.executable, "-m", "qianshu", *args)

    def sample(self) -> None:
        """Remember each process's peak RSS (and its forked children's: gunicorn's worker)."""
        for name, proc in list(self.procs.items()):
            self._sample(name, proc)

    def _sample(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        pids = [(name, proc.pid)] + [(f"{name} (worker)", c) for c in _children(proc.pid)]
        for label, pid in pids:
            self.peaks[label] = max(self.peaks.get(label, 0.0), _peak_rss_mb(pid))

    def pause(self, names: list[str]) -> None:
        for name in names:
            self.procs[name].send_signal(signal.SIGSTOP)

    def resume(self, names: list[str]) -> None:
        for name in names:
            self.procs[name].send_signal(signal.SIGCONT)

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name)
        try:
            self._sample(name, proc)
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a paused worker must be able to stop
                proc.send_signal(sig)
                proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

    def close(self) -> None:
        errors = []
        for name in list(self.procs):
            try:
                self.stop(name)
            except Exception as exc:  # the others must still be stopped
                errors.append(f"{name}: {exc!r}")
        if errors:
            raise RuntimeError("children that would not stop: " + "; ".join(errors))


class Receiver:
    """The business system's webhook receiver (a thread of this process): counts each
    ``webhook-id`` it gets."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        lock = threading.Lock()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                with lock:
                    received[self.headers.get("webhook-id", "")] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _environment(data_dir: str, s3_port: int, web_ports: list[int]) -> dict[str, str]:
    from benchmarks.pages import _environment as production

    env = production(data_dir)
    env.update(
        DATABASE_URL=database.url(DB),
        QIANSHU_PUBLIC_URL=f"http://127.0.0.1:{web_ports[0]}",
        QIANSHU_ALLOWED_HOSTS="127.0.0.1",
        QIANSHU_STORAGE="s3",
        QIANSHU_S3_BUCKET=BUCKET,
        QIANSHU_S3_ENDPOINT_URL=f"http://127.0.0.1:{s3_port}",
        QIANSHU_S3_REGION="us-east-1",
        QIANSHU_API_PER_MINUTE=str(10**9),
        QIANSHU_WEBHOOK_ALLOW_PRIVATE="1",
        QIANSHU_SMS_BACKEND="file",
        QIANSHU_SMS_FILE=os.path.join(data_dir, "sms.log"),
        QIANSHU_IDENTITY_PROVIDER="sandbox",
        QIANSHU_IDENTITY_SANDBOX_ALLOWED="1",
        QIANSHU_TASK_LEASE_SECONDS=str(LEASE_SECONDS),
        QIANSHU_SEND_PER_USER_DAY=str(10**6),
        QIANSHU_SEND_PER_ORG_DAY=str(10**6),
        QIANSHU_SILENCED_CHECKS="qianshu.W020,qianshu.W021",
        **S3_KEYS,
    )
    return env


def _child(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.scaleout", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks.scaleout {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- children (Django) -----------------------------------------------------------------------


def seed(hook_url: str) -> dict[str, Any]:
    """Migrate, the platform PKI, a verified organisation with a contract seal granted to an
    API key, a webhook endpoint for the receiver."""
    import datetime as dt

    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from tests.support.personas import make_verified_org, make_verified_person
    from tests.support.seals import make_seal

    from qianshu.api.actions.keys import do_create_api_key
    from qianshu.api.actions.seals import do_grant_seal_to_key
    from qianshu.api.models import Scope
    from qianshu.core.meta import COMMAND
    from qianshu.orgs.models import Seal
    from qianshu.pki.actions import do_init_pki
    from qianshu.webhooks.actions.endpoints import do_create_endpoint

    do_init_pki(name="扩展测试平台")
    admin = make_verified_person("scaleout", "13600000001", real_name="接口管理员")
    org = make_verified_org(admin)
    seal = make_seal(org, admin, kind=Seal.Kind.CONTRACT)
    key, plain = do_create_api_key(
        org, name="bench", scopes=list(Scope.values), actor=admin, meta=COMMAND
    )
    valid_until = timezone.now() + dt.timedelta(days=30)
    do_grant_seal_to_key(key, seal, valid_until=valid_until, actor=admin, meta=COMMAND)
    do_create_endpoint(
        org,
        url=hook_url,
        events=["envelope.sent", "envelope.completed"],
        actor=admin,
        meta=COMMAND,
    )
    return {
        "key": plain,
        "org": {"name": org.name, "credit_code": org.credit_code},
        "phone": admin.phone,
    }


def state(ids: list[str]) -> dict[str, Any]:
    """What the database says about the envelopes ``ids`` (uuids) and the task queue."""
    import django

    django.setup()
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    from qianshu.envelopes.models import AuditEvent, Envelope
    from qianshu.notifications.models import OutboxMessage
    from qianshu.webhooks.models import Message

    envelopes = Envelope.objects.filter(uuid__in=ids)
    numbers = list(envelopes.values_list("number", flat=True))
    completions = Counter(
        AuditEvent.objects.filter(
            envelope__in=envelopes, action="completed", detail__step="envelope"
        ).values_list("envelope_id", flat=True)
    )
    hooks: Counter[tuple[str, str]] = Counter()
    statuses: Counter[str] = Counter()
    for event_type, body, status in Message.objects.values_list("event_type", "body", "status"):
        number = json.loads(body)["data"]["envelope"]["number"]
        if number in numbers:
            hooks[(event_type, number)] += 1
            statuses[status] += 1
    sms = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.SMS)
    doubled_sms = sms.values("recipient", "body").annotate(n=Count("id")).filter(n__gt=1).count()
    jobs = Counter(DBTaskResult.objects.values_list("status", flat=True))
    rerun = [
        r
        for r in DBTaskResult.objects.only("task_path", "worker_ids", "status")
        if len(r.worker_ids) > 1
    ]
    return {
        "envelopes": len(numbers),
        "completed": envelopes.filter(status=Envelope.Status.COMPLETED).count(),
        "with_report": envelopes.exclude(report=None).count(),
        "completion_events": dict(Counter(completions.values())),
        "hooks_per_event": dict(Counter(str(n) for n in hooks.values())),
        "hook_events": len(hooks),
        "hook_statuses": dict(statuses),
        "doubled_sms": doubled_sms,
        "jobs": dict(jobs),
        "jobs_run_again": [
            {"task": r.task_path.rsplit(".", 1)[-1], "workers": r.worker_ids, "status": r.status}
            for r in rerun
        ],
    }


# --- the client ------------------------------------------------------------------------------


@dataclass
class Client:
    key: str
    org: dict[str, str]
    phone: str
    ports: list[int]
    sealed: list[int] = field(default_factory=list)  # the offsets of the sealed envelopes

    def progress(self) -> int:
        """The highest offset sealed so far (the envelopes go in order, 4 at a time)."""
        return max(self.sealed, default=0)

    def call(self, port: int, method: str, path: str, body: bytes, content_type: str) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1{path}",
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": content_type},
        )
        with urllib.request.urlopen(request, timeout=120) as answer:
            return json.loads(answer.read())

    def post_json(self, port: int, path: str, payload: dict[str, Any] | None = None) -> Any:
        return self.call(port, "POST", path, json.dumps(payload or {}).encode(), "application/json")

    def upload(self, port: int, pdf: bytes) -> str:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="contract.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
            ).encode()
            + pdf
            + f"\r\n--{boundary}--\r\n".encode()
        )
        uploaded = self.call(
            port, "POST", "/documents", body, f"multipart/form-data; boundary={boundary}"
        )
        return str(uploaded["id"])

    def envelope(self, i: int, pdf: bytes) -> str:
        """Upload, create (sent at once) and seal one envelope, on one web process."""
        port = self.ports[i % len(self.ports)]
        doc = self.upload(port, pdf)
        created = self.post_json(
            port,
            "/envelopes",
            {
                "title": f"扩展合同 {i}",
                "documents": [doc],
                "recipients": [
                    {
                        "role": "seal",
                        "order": 1,
                        "name": self.org["name"],
                        "phone": self.phone,
                        "org": self.org,
                        "fields": [
                            {"type": "seal", "document": doc, "page": 1, "x": 300, "y": 560}
                        ],
                    }
                ],
            },
        )
        step = created["recipients"][0]["id"]
        # The other web process seals it: nothing of the envelope stays in the first.
        other = self.ports[(i + 1) % len(self.ports)]
        self.post_json(other, f"/envelopes/{created['id']}/recipients/{step}/seal")
        self.sealed.append(i)
        return str(created["id"])

    def completed(self, port: int, ids: list[str]) -> int:
        done = 0
        for envelope_id in ids:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/envelopes/{envelope_id}",
                headers={"Authorization": f"Bearer {self.key}"},
            )
            with urllib.request.urlopen(request, timeout=60) as answer:
                done += json.loads(answer.read())["status"] == "completed"
        return done


def _send(client: Client, count: int, offset: int) -> tuple[list[str], float]:
    """Send and seal ``count`` envelopes through the API (``CLIENTS`` at a time, alternating
    between the web processes); returns their ids and the seconds it took."""
    from qianshu.signing.samples import make_test_pdf

    pdf = make_test_pdf(pages=2)
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        ids = list(pool.map(lambda i: client.envelope(i, pdf), range(offset, offset + count)))
    return ids, time.perf_counter() - started


def _completed(ids: list[str]) -> int:
    """How many of the envelopes ``ids`` are completed (one indexed query, so that watching
    does not load the web processes being measured)."""
    rows = _query(
        "SELECT count(*) FROM envelopes_envelope WHERE uuid = ANY(%s::uuid[]) "
        "AND status = 'completed'",
        ids,
    )
    return int(rows[0][0])


def _wait_completed(
    client: Client, topology: Topology, ids: list[str], *, on_progress: Any = None
) -> float:
    """Seconds until every envelope of ``ids`` is completed; the API then confirms it."""
    started = time.perf_counter()
    deadline = time.monotonic() + RUN_TIMEOUT
    while (done := _completed(ids)) < len(ids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(ids) - done} of {len(ids)} envelopes not completed in time")
        topology.sample()
        if on_progress is not None:
            on_progress(done)
        time.sleep(0.25)
    elapsed = time.perf_counter() - started
    port = client.ports[0]
    if client.completed(port, ids) != len(ids):
        raise RuntimeError("the API does not show every envelope completed")
    return elapsed


# --- the report ------------------------------------------------------------------------------


def _start_workers(topology: Topology, names: list[str]) -> None:
    for name in names:
        topology.qianshu(
            name,
            "db_worker",
            "--queue-name",
            "*",
            "--interval",
            "0.2",
            "--no-startup-delay",
            "--no-reload",
            "--worker-id",
            name,
        )


def _query(sql: str, *params: object) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(database.url(DB), autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def _database_now() -> Any:
    return _query("SELECT now()")[0][0]


def _job_seconds(since: Any) -> float:
    """The seconds the workers spent in jobs started since ``since`` (all of them finished):
    against the wall-clock time, how many ran at once on average."""
    rows = _query(
        "SELECT coalesce(sum(extract(epoch FROM finished_at - started_at)), 0) "
        "FROM django_tasks_database_dbtaskresult WHERE started_at >= %s",
        since,
    )
    return float(rows[0][0])


def _running_completions() -> list[str]:
    """The workers running a completion now (the last id of each such job), straight from
    the database so that the worker is still at it when it is killed."""
    rows = _query(
        "SELECT worker_ids->>-1 FROM django_tasks_database_dbtaskresult "
        "WHERE status = 'RUNNING' AND task_path LIKE %s",
        "%.complete_envelope",
    )
    return [row[0] for row in rows if row[0]]


def _kill_a_busy_worker(topology: Topology) -> str:
    """SIGKILL a worker while it runs a completion; returns its name."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        busy = [w for w in _running_completions() if w in topology.procs]
        if busy:
            topology.stop(busy[0], signal.SIGKILL)
            return busy[0]
        time.sleep(0.05)
    raise RuntimeError("no worker was seen running a completion")


def run(*, quick: bool) -> None:
    count = 20 if quick else 100
    print("9. Scale-out: 2 web processes, workers, timers, PostgreSQL, S3 (moto) on 127.0.0.1")
    database.admin(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    database.admin(f"CREATE DATABASE {DB}")
    try:
        with tempfile.TemporaryDirectory(prefix="qianshu-bench-scaleout-") as data_dir:
            _run(Path(data_dir), count)
    finally:
        database.admin(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    print()


def _run(data_dir: Path, count: int) -> None:
    s3_port, web_ports = _free_port(), [_free_port(), _free_port()]
    env = _environment(str(data_dir), s3_port, web_ports)
    topology = Topology(env=env, log_dir=data_dir)
    with ExitStack() as stack:
        stack.callback(topology.close)
        receiver = Receiver()
        stack.callback(receiver.close)
        client = _start(topology, s3_port, web_ports, receiver)
        workers = ["worker1", "worker2"]
        _start_workers(topology, workers)
        warm, _ = _send(client, 4, 10**6)  # warm-up of every process (not counted)
        _wait_completed(client, topology, warm)
        _measure(client, topology, workers, count)
        _kill_run(client, topology, workers, count, receiver)
        print("   peak RSS (VmHWM) of each process (target < 500 MB):")
        peaks = {name: peak for name, peak in topology.peaks.items() if peak}
        if peaks:
            summary.record(
                "scale-out: peak RSS of any process (web, worker, timers, S3 server)",
                f"{max(peaks.values()):.0f} MB ({max(peaks, key=peaks.__getitem__)})",
                target="< 500 MB",
                met=max(peaks.values()) < 500,
            )
        for name, peak in sorted(topology.peaks.items()):
            if peak:
                print(f"     {name:16} {peak:7.1f} MB")


def _start(topology: Topology, s3_port: int, web_ports: list[int], receiver: Receiver) -> Client:
    """moto's S3 server and its bucket, the database (seeded), the two web processes."""
    import boto3

    topology.start(
        "s3",
        sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port),
    )  # fmt: skip
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_port}",
        region_name="us-east-1",
        aws_access_key_id=S3_KEYS["QIANSHU_S3_ACCESS_KEY"],
        aws_secret_access_key=S3_KEYS["QIANSHU_S3_SECRET_KEY"],
    )
    _wait_until(lambda: s3.list_buckets() is not None, "moto S3 server", 30)
    s3.create_bucket(Bucket=BUCKET)
    seeded = _child(topology.env, "seed", receiver.url)
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    for n, port in enumerate(web_ports, 1):
        topology.start(
            f"web{n}",
            gunicorn, "qianshu.wsgi", "-c", str(GUNICORN_CONF),
            "-b", f"127.0.0.1:{port}", "-w", "1", "--log-level", "warning",
        )  # fmt: skip
    for port in web_ports:
        url = f"http://127.0.0.1:{port}/api/v1/openapi.json"
        _wait_until(
            lambda u=url: urllib.request.urlopen(u, timeout=5).status == 200,
            f"web process on {port}",
            90,
        )
    return Client(seeded["key"], seeded["org"], seeded["phone"], web_ports)


def _measure(client: Client, topology: Topology, workers: list[str], count: int) -> None:
    """The workers wait (SIGSTOP, idle) while the envelopes are sent, then drain the queue:
    first one worker, then both."""
    rates: dict[int, float] = {}
    for running in (1, 2):
        # Paused between jobs only: a worker stopped in a job would hold its row locks.
        _wait_until(lambda: not _queue_busy(), "the task queue to drain", RUN_TIMEOUT)
        topology.pause(workers)
        ids, sent = _send(client, count, running * count)
        since = _database_now()
        topology.resume(workers[:running])
        elapsed = _wait_completed(client, topology, ids)
        rates[running] = count / elapsed
        busy = _job_seconds(since)
        print(
            f"   {running} worker{'s' if running > 1 else ' '}: {rates[running]:6.2f} "
            f"completed envelopes/s ({count} envelopes sent and sealed through the API in "
            f"{sent:5.1f} s, {count / sent:5.2f}/s; then completed in {elapsed:5.1f} s, "
            f"jobs running {busy / elapsed:4.2f} of the time on average)"
        )
    topology.resume(workers)
    print(f"   ratio 2 / 1 workers: {rates[2] / rates[1]:.2f}x")
    summary.record(
        f"scale-out: completed envelopes/s, 2 web processes, {count} envelopes, 1 / 2 workers",
        f"{rates[1]:.2f} / {rates[2]:.2f} ({rates[2] / rates[1]:.2f}×)",
        baseline=f"1 worker: {rates[1]:.2f}/s",
    )


def _queue_busy() -> bool:
    """Whether a job is running or due (deferred retries are not waited for)."""
    rows = _query(
        "SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status = 'RUNNING' "
        "OR (status = 'READY' AND (run_after <= now() OR run_after >= '9999-01-01'))"
    )
    return int(rows[0][0]) > 0


def _kill_run(
    client: Client, topology: Topology, workers: list[str], count: int, receiver: Receiver
) -> None:
    """Workers and timers running while the envelopes are sent; a worker killed once a
    quarter of them is sealed, while it runs a completion."""
    topology.qianshu("timers", "envelope-timers", "--loop", "--interval", "1")
    offset = 3 * count
    killed: dict[str, str] = {}

    def kill_when_busy() -> None:
        deadline = time.monotonic() + RUN_TIMEOUT
        while client.progress() < offset + count // 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        killed["worker"] = _kill_a_busy_worker(topology)

    killer = threading.Thread(target=kill_when_busy, daemon=True)
    started = time.perf_counter()
    killer.start()
    ids, _sent = _send(client, count, offset)
    killer.join(RUN_TIMEOUT)
    if not killed:
        raise RuntimeError("no worker could be killed during the kill run")
    _wait_completed(client, topology, ids)
    _wait_until(lambda: not _queue_busy(), "the task queue to drain", RUN_TIMEOUT)
    elapsed = time.perf_counter() - started
    topology.sample()
    checked = _child(topology.env, "state", json.dumps(ids))
    _report_kill(killed, checked, count, elapsed, receiver)


def _report_kill(
    killed: dict[str, str], checked: dict[str, Any], count: int, elapsed: float, receiver: Receiver
) -> None:
    requeued = [j for j in checked["jobs_run_again"] if j["workers"][0] == killed["worker"]]
    doubled = sum(1 for n in receiver.received.values() if n > 1)
    problems = []
    if checked["completed"] != count or checked["with_report"] != count:
        problems.append(f"{count - checked['completed']} envelopes not completed")
    if checked["completion_events"] != {"1": count}:
        problems.append(f"completion events per envelope: {checked['completion_events']}")
    if checked["hooks_per_event"] != {"1": 2 * count}:
        problems.append(f"webhook messages per event: {checked['hooks_per_event']}")
    if checked["doubled_sms"]:
        problems.append(f"{checked['doubled_sms']} SMS queued twice")
    if not any(j["task"] == "complete_envelope" for j in requeued):
        problems.append("no completion of the killed worker was run again (killed between jobs?)")
    if set(checked["jobs"]) - {"SUCCESSFUL"}:
        problems.append(f"jobs: {checked['jobs']}")
    print(
        f"   kill run, 2 workers, {killed['worker']} killed (SIGKILL) while running a "
        f"completion: {count} envelopes in {elapsed:5.1f} s"
    )
    print(
        f"     {checked['completed']} of {count} completed, completion events per envelope "
        f"{checked['completion_events']}, webhook messages per event "
        f"{checked['hooks_per_event']} ({checked['hook_statuses']}), received twice: "
        f"{doubled}; jobs {checked['jobs']}"
    )
    again = ", ".join(f"{j['task']} → {j['workers'][-1]} {j['status']}" for j in requeued)
    print(
        f"     jobs of the killed worker queued again (lease {LEASE_SECONDS} s) and finished "
        f"by another: {again or 'none'}"
    )
    verdict = "FAILED: " + "; ".join(problems) if problems else "OK: none lost, none ran twice"
    print(f"     {verdict}")
    summary.record(
        "scale-out: a worker killed (SIGKILL) mid-completion",
        f"{checked['completed']} of {count} completed; {verdict}",
        target="none lost, none ran twice",
        met=not problems,
    )


def main(argv: list[str]) -> int:
    if not argv or argv == ["--quick"]:
        run(quick=bool(argv))
    elif argv[0] == "seed":
        print(json.dumps(seed(argv[1])))
    elif argv[0] == "state":
        print(json.dumps(state(json.loads(argv[1]))))
    else:
        raise SystemExit("usage: python -m benchmarks.scaleout [--quick | seed URL | state IDS]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
