"""Open API and webhook benchmarks (section 8 of ``make bench``), on PostgreSQL.

* ``GET /api/v1/envelopes/{id}`` under gunicorn (2 workers × 4 threads, gthread, DEBUG off)
  on loopback, loaded by ``ab`` (C, keep-alive, 8 concurrent): requests per second and the
  99th percentile. Every request does what production does: the key lookup (remembered for
  5 s by the process), the per-key rate limit (reserved a few calls at a time from the shared
  count), the call log row, the envelope with its recipients and documents. Target: at least
  500 req/s with p99 under 50 ms on 2 cores.
* Webhook delivery: messages already in the outbox delivered to a receiver on loopback (its
  own process, HTTP/1.1) one per ``deliver`` call as the task queue does, and by
  ``deliver_due`` as the sweep does (batches, a few sending threads), each in one process and
  in two; failed attempts are counted. Target: at least 200 events/s.

A throwaway database ``qianshu_bench_api`` is created on the server of
``QIANSHU_BENCH_DATABASE_URL`` and dropped afterwards. ``QIANSHU_BENCH_GUNICORN`` replaces
the gunicorn options (to compare configurations).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

from benchmarks import database, summary

DB = "qianshu_bench_api"
TARGET_RPS, TARGET_P99_MS, TARGET_EVENTS = 500, 50, 200
# Kept-alive connections stay with the worker that accepted them (ab's 8 can land unevenly
# on the two: one source of the spread between runs); without keep-alive each request is
# balanced but pays a connection, and measured slower (README).
GUNICORN = os.environ.get("QIANSHU_BENCH_GUNICORN", "-w 2 --threads 4 -k gthread").split()


def _environment(data_dir: str, port: int) -> dict[str, str]:
    """Production settings (benchmarks.pages: fixed secrets, DEBUG off) on PostgreSQL."""
    from benchmarks.pages import _environment as production

    env = production(data_dir)
    env.update(
        DATABASE_URL=database.url(DB),
        QIANSHU_PUBLIC_URL=f"http://127.0.0.1:{port}",
        QIANSHU_ALLOWED_HOSTS="127.0.0.1",
        QIANSHU_API_PER_MINUTE=str(10**9),  # the limit is checked (a row update), never hit
        QIANSHU_WEBHOOK_ALLOW_PRIVATE="1",
        QIANSHU_SILENCED_CHECKS="qianshu.W020,qianshu.W021",
    )
    return env


def _child(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.api", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks.api {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- children ------------------------------------------------------------------------------


def seed() -> dict[str, Any]:
    """Migrate; an organisation, its API key and an envelope with two recipients."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tests.support.personas import make_verified_org, make_verified_person

    from qianshu.api.actions.keys import do_create_api_key
    from qianshu.core.meta import COMMAND
    from qianshu.envelopes import compose
    from qianshu.envelopes.actions import compose as compose_actions
    from qianshu.signing.samples import make_test_pdf

    admin = make_verified_person("bench", "13600000001", real_name="接口管理员")
    org = make_verified_org(admin)
    envelope = compose_actions.do_create_draft(title="采购合同", actor=admin, org=org, meta=COMMAND)
    compose_actions.do_add_document(
        envelope, make_test_pdf(pages=2), "采购合同.pdf", actor=admin, meta=COMMAND
    )
    compose_actions.do_set_recipients(
        envelope,
        [
            compose.RecipientInput(role="sign", routing_order=1, name="张三", phone="13600000002"),
            compose.RecipientInput(role="sign", routing_order=2, name="李四", phone="13600000003"),
        ],
        actor=admin,
    )
    _key, plain = do_create_api_key(
        org, name="bench", scopes=["envelopes:read", "webhooks"], actor=admin, meta=COMMAND
    )
    return {"key": plain, "envelope": str(envelope.uuid), "org": org.pk}


def _receiver(port: Any, received: Any) -> None:
    """A receiver on loopback in a process of its own (not competing with the delivering
    process for its interpreter), answering 204 over kept-alive HTTP/1.1 connections."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            with received.get_lock():
                received.value += 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 256  # two delivering processes must not meet a full backlog

    server = Server(("127.0.0.1", 0), Handler)
    port.value = server.server_address[1]
    server.serve_forever()


def _sweep(limit: int) -> dict[str, int]:
    from qianshu.webhooks import delivery

    return dict(delivery.deliver_due(limit=limit))


def webhooks(count: int, processes: int, mode: str) -> dict[str, Any]:
    """Queue ``count`` messages for a receiver on loopback, then time their delivery: one
    message per call of ``deliver`` as the task queue does (``task``), or ``deliver_due`` as
    the sweep does (``sweep``), in ``processes`` processes."""
    import django

    django.setup()
    import multiprocessing

    from django.db import connections, transaction

    from qianshu.core.meta import COMMAND
    from qianshu.orgs.models import Organization
    from qianshu.webhooks import delivery
    from qianshu.webhooks.actions import messages
    from qianshu.webhooks.actions.endpoints import do_create_endpoint
    from qianshu.webhooks.models import Attempt, Endpoint, Message

    fork = multiprocessing.get_context("fork")
    port, received = fork.Value("i", 0), fork.Value("i", 0)
    receiver = fork.Process(target=_receiver, args=(port, received), daemon=True)
    receiver.start()
    while not port.value:
        time.sleep(0.01)
    org = Organization.objects.get()
    admin = org.memberships.get().user  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port.value}/hook"
    endpoint, _secret = do_create_endpoint(
        org, url=url, events=["envelope.sent"], actor=admin, meta=COMMAND
    )
    # One endpoint at a time: the runs before left theirs, whose receivers are gone.
    Endpoint.objects.exclude(pk=endpoint.pk).delete()
    # Queued as the workers find them (the immediate backend would deliver at commit).
    messages.schedule = lambda *args, **kwargs: None  # type: ignore[assignment]
    with transaction.atomic():
        for i in range(count):
            messages.do_emit_event(org, "envelope.sent", {"envelope": {"number": f"QS-{i}"}})
    mine = Message.objects.filter(endpoint=endpoint)
    ids = list(mine.order_by("pk").values_list("pk", flat=True))
    connections.close_all()
    started = time.perf_counter()
    if mode == "sweep" and processes == 1:
        delivery.deliver_due(limit=count)
    elif mode == "sweep":
        with fork.Pool(processes) as pool:
            pool.map(_sweep, [count] * processes)
    elif processes == 1:
        for message_id in ids:
            delivery.deliver(message_id)
    else:
        with fork.Pool(processes) as pool:
            pool.map(delivery.deliver, ids, chunksize=max(1, len(ids) // (processes * 8)))
    elapsed = time.perf_counter() - started
    receiver.terminate()
    attempts = Attempt.objects.filter(message__endpoint=endpoint)
    return {
        "delivered": mine.filter(status=Message.Status.DELIVERED).count(),
        "received": received.value,
        "attempts": attempts.count(),
        "failed_attempts": attempts.filter(ok=False).count(),
        "seconds": elapsed,
    }


# --- the report ----------------------------------------------------------------------------


def _ab(url: str, key: str, requests: int) -> tuple[float, float]:
    out = subprocess.run(
        [
            "ab",
            "-q",
            "-k",
            "-n",
            str(requests),
            "-c",
            "8",
            "-H",
            f"Authorization: Bearer {key}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = float(re.search(r"\n\s+99%\s+(\d+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    if non_2xx:
        raise RuntimeError(f"{non_2xx.group(1)} answers were not 200:\n{out[-2000:]}")
    return rps, p99


def run(*, quick: bool) -> None:
    requests, events = (600, 100) if quick else (5000, 1000)
    print("8. Open API and webhooks (PostgreSQL, DEBUG off)")
    if not shutil.which("ab"):
        print("   ab (apache2-utils) is not installed: run `make bench` (it installs it)")
        return
    database.admin(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    database.admin(f"CREATE DATABASE {DB}")
    port = _free_port()
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    try:
        with tempfile.TemporaryDirectory(prefix="qianshu-bench-api-") as data_dir:
            env = _environment(data_dir, port)
            seeded = _child(env, "seed")
            server = subprocess.Popen(
                [gunicorn, "qianshu.wsgi", *GUNICORN,
                 "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
                env=env,
            )  # fmt: skip
            try:
                url = f"http://127.0.0.1:{port}/api/v1/envelopes/{seeded['envelope']}"
                deadline = time.monotonic() + 60
                while True:
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json")
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.3)
                # Warm-up: both workers, every code path, and long enough (a few seconds) for
                # the workers' own warm-up threads (qianshu/warmup.py), which go on after the
                # first answer, to finish: the measurement is of the steady state.
                _ab(url, seeded["key"], 200 if quick else 2000)
                rps, p99 = _ab(url, seeded["key"], requests)
            finally:
                server.terminate()
                server.wait(30)
            print(
                f"   GET /api/v1/envelopes/{{id}}, gunicorn {' '.join(GUNICORN)}, ab -k -c 8: "
                f"{rps:7.1f} req/s, p99 {p99:.0f} ms "
                f"(target >= {TARGET_RPS} req/s, p99 < {TARGET_P99_MS} ms)"
            )
            summary.record(
                "`GET /api/v1/envelopes/{id}`, gunicorn, `ab -k -c 8`",
                f"{rps:.0f} req/s, p99 {p99:.0f} ms",
                target=f"≥ {TARGET_RPS} req/s, p99 < {TARGET_P99_MS} ms",
                met=rps >= TARGET_RPS and p99 < TARGET_P99_MS,
            )
            rates: dict[tuple[str, int], float] = {}
            for mode, label in (("task", "one message per task"), ("sweep", "sweep")):
                for processes in (1, 2):
                    result = _child(env, "webhooks", str(events), str(processes), mode)
                    rate = result["delivered"] / result["seconds"]
                    print(
                        f"   webhook delivery, {label}, {processes} "
                        f"process{'es' if processes > 1 else ''}: {rate:7.1f} events/s "
                        f"({result['delivered']} of {events} delivered, {result['received']} "
                        f"received, {result['failed_attempts']} of {result['attempts']} "
                        f"attempts failed; target >= {TARGET_EVENTS}/s)"
                    )
                    rates[(mode, processes)] = rate
                    if processes == 2:
                        summary.record(
                            f"webhook delivery, {label}, 1 / 2 processes",
                            f"{rates[(mode, 1)]:.0f} / {rate:.0f} events/s",
                            baseline=f"1 process: {rates[(mode, 1)]:.0f} events/s",
                            target=f"≥ {TARGET_EVENTS} events/s",
                            met=rate >= TARGET_EVENTS and result["delivered"] == events,
                        )
    finally:
        database.admin(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    print()


def main(argv: list[str]) -> int:
    if not argv or argv == ["--quick"]:
        run(quick=bool(argv))
    elif argv[0] == "seed":
        print(json.dumps(seed()))
    elif argv[0] == "webhooks":
        print(json.dumps(webhooks(int(argv[1]), int(argv[2]), argv[3])))
    else:
        raise SystemExit(
            "usage: python -m benchmarks.api [--quick | seed | webhooks N P task|sweep]"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
