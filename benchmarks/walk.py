"""Part of ``make bench`` section 7: the web process's start-up, and a walk through every page.

* Start-up: ``gunicorn qianshu.wsgi`` (one sync worker, DEBUG off, the embedded defaults:
  SQLite and local files) is started on 127.0.0.1 and asked for ``/login/`` until it answers
  200; the time from starting the process to that answer, median of a few starts, against the
  2 s target; then the worker's peak RSS once the walk's heaviest pages have been asked for.
* The walk: the demo data of ``make run`` (the same management commands, in child processes,
  in a fresh data directory) and one process that, as each demo persona (the operator, alice,
  bob, charlie, the employment demo's people, and nobody logged in), GETs every page of the URL
  resolver, path parameters filled from the demo data. A page is walked with the first persona
  and parameters that get 200 (else 302); 405 marks a POST-only endpoint. Server time through
  Django's test client, no network: cold is that first request, warm the median of 3 after it.
  Prints the ten slowest pages against the 300 ms target, the pages walked and the peak RSS,
  the endpoints skipped and why, and every page that answered 500 or that no persona reached.

The demo data exists only in development mode (the commands refuse without ``QIANSHU_DEBUG``),
so the walk runs with ``DEBUG`` on, as ``make run`` does.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any

from benchmarks import summary

PAGE_TARGET_MS = 300.0
STARTUP_TARGET_S = 2.0
RSS_TARGET_MB = 500.0
WARM = 3


# --- the walking process ------------------------------------------------------------------------


def walk() -> dict[str, Any]:
    """In this process: start as the WSGI server does, then walk every page."""
    import importlib

    importlib.import_module("qianshu.wsgi")  # what gunicorn imports before any request
    from tests.support import pagewalk

    from qianshu import warmup

    warmup.wait()
    people = pagewalk.personas()
    walked, skipped, problems, post_only = [], [], [], []
    routes = list(pagewalk.patterns())
    for name, route, params in routes:
        reason = pagewalk.skip_reason(name, params)
        if reason:
            skipped.append({"name": name, "route": route, "reason": reason})
            continue
        outcome = pagewalk.find(name, params, people)
        if outcome is None:
            problem = "the demo data has nothing to fill it"
            problems.append({"name": name, "route": route, "problem": problem})
        elif outcome.status == 405:
            post_only.append(name)
        elif outcome.walked:
            client = next(p.client for p in people if p.label == outcome.persona)
            warm = [pagewalk.timed_get(client, outcome.url)[1] for _ in range(WARM)]
            page: dict[str, Any] = {"name": name, "url": outcome.url, "persona": outcome.persona}
            page.update(status=outcome.status, kind=outcome.kind, cold=outcome.cold_ms)
            walked.append({**page, "warm": statistics.median(warm)})
        else:
            problem = f"answers {outcome.statuses}"
            problems.append({"name": name, "route": route, "problem": problem})
    return {
        "patterns": len(routes),
        "personas": len(people),
        "walked": walked,
        "skipped": skipped,
        "post_only": post_only,
        "problems": problems,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# --- the start-up measurement -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _processes(master: int) -> list[int]:
    """The gunicorn master and its workers."""
    with open(f"/proc/{master}/task/{master}/children") as children:
        return [master, *map(int, children.read().split())]


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used (while they run)."""
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start_up(env: dict[str, str], heavy: list[str]) -> dict[str, float]:
    """Start gunicorn and ask for ``/login/`` until it answers 200. Returns the seconds until
    then (wall) and the CPU seconds its processes used until then (what a busy host does not
    inflate), and the worker's peak RSS once it has warmed up and served ``heavy`` URLs (asked
    without a session: the login redirect or a 404)."""
    port = _free_port()
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    start = time.perf_counter()
    server = subprocess.Popen(
        [gunicorn, "qianshu.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = start + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=60) as r:
                    if r.status == 200:
                        break
            except OSError:  # not listening yet (URLError, ConnectionError are OSErrors)
                pass
            if server.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"gunicorn did not answer (exit code {server.poll()})")
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        pids = _processes(server.pid)
        cpu = _cpu_seconds(pids)
        time.sleep(5)  # the warm-up goes on in the worker
        for url in heavy:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{url}", timeout=30).close()
            except urllib.error.HTTPError:
                pass
        rss = max(_peak_rss_mb(pid) for pid in pids)
        return {"wall": elapsed, "cpu": cpu, "rss": rss}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


# --- the report ----------------------------------------------------------------------------------


def _seed(env: dict[str, str]) -> None:
    """The commands ``make run`` runs, each in its own process, in development mode."""
    dev = {**env, "QIANSHU_DEBUG": "1"}
    for command in (
        ["migrate", "--noinput", "-v0"],
        ["init-pki", "--if-absent"],
        ["demo-data", "--if-absent"],
        ["demo-envelopes", "--if-absent"],
        ["demo-employment", "--if-absent"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "qianshu", *command],
            env=dev,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"qianshu {command[0]} failed:\n{done.stderr[-3000:]}")


def run(*, quick: bool) -> None:
    """Print the start-up and the walk (section 7, after the cold pages)."""
    from benchmarks.pages import _environment

    starts = 2 if quick else 5
    with tempfile.TemporaryDirectory(prefix="qianshu-bench-walk-") as data_dir:
        env = _environment(data_dir)
        _seed(env)
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.walk", "walk"],
            env={**env, "QIANSHU_DEBUG": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the walk failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        walked = sorted(result["walked"], key=lambda page: -page["warm"])
        heavy = [page["url"] for page in walked[:10]]
        measured = [start_up(env, heavy) for _ in range(starts)]
    wall = statistics.median(m["wall"] for m in measured)
    cpu = statistics.median(m["cpu"] for m in measured)
    print(
        "   web process start-up, gunicorn qianshu.wsgi (1 worker, DEBUG off) until /login/ "
        f"answers, median of {starts}:"
    )
    print(
        f"     {wall:.2f} s   (target < {STARTUP_TARGET_S:.0f} s; CPU time used until then "
        f"{cpu:.2f} s, the figure a busy host does not inflate)"
    )
    print(f"     worker peak RSS {max(m['rss'] for m in measured):.0f} MB")
    print(
        f"   Walk through every page on the demo data of `make run` (DEBUG on, test client): "
        f"{len(walked)} pages walked of {result['patterns']} URL patterns, "
        f"{result['personas']} personas"
    )
    print("   ten slowest (warm: median of 3 after the first request; cold: the first)")
    for page in walked[:10]:
        mark = "" if max(page["warm"], page["cold"]) < PAGE_TARGET_MS else "  over target"
        print(
            f"     {page['name']:38s} warm {page['warm']:6.1f} ms  cold {page['cold']:6.1f} ms"
            f"  as {page['persona']}{mark}"
        )
    over = [p["name"] for p in walked if max(p["warm"], p["cold"]) >= PAGE_TARGET_MS]
    print(
        f"   pages over {PAGE_TARGET_MS:.0f} ms (warm or cold): {len(over)}"
        + (f" ({', '.join(over)})" if over else "")
    )
    print(
        f"   walking process peak RSS {result['rss_mb']:.0f} MB   (target < {RSS_TARGET_MB:.0f} MB)"
    )
    slowest = walked[0] if walked else None
    summary.record(
        "web process start-up (gunicorn, until /login/ answers)",
        f"{wall:.2f} s (CPU {cpu:.2f} s)",
        target=f"< {STARTUP_TARGET_S:.0f} s",
        met=wall < STARTUP_TARGET_S,
    )
    if slowest is not None:
        summary.record(
            f"slowest of {len(walked)} pages walked on the demo data (warm / cold)",
            f"{slowest['name']}: {slowest['warm']:.0f} / {slowest['cold']:.0f} ms; "
            f"{len(over)} over {PAGE_TARGET_MS:.0f} ms",
            target=f"< {PAGE_TARGET_MS:.0f} ms each",
            met=not over,
        )
    summary.record(
        "peak RSS, gunicorn worker / walking process",
        f"{max(m['rss'] for m in measured):.0f} / {result['rss_mb']:.0f} MB",
        target=f"< {RSS_TARGET_MB:.0f} MB",
        met=max(max(m["rss"] for m in measured), result["rss_mb"]) < RSS_TARGET_MB,
    )
    print(f"   POST-only (405 on GET), not walked: {len(result['post_only'])}")
    reasons: dict[str, list[str]] = {}
    for entry in result["skipped"]:
        reasons.setdefault(f"skipped, {entry['reason']}", []).append(entry["name"])
    for problem in result["problems"]:
        reasons.setdefault(f"NOT WALKED, {problem['problem']}", []).append(problem["name"])
    for reason, names in reasons.items():
        shown = ", ".join(names[:8]) + (f" … ({len(names)})" if len(names) > 8 else "")
        print(f"   {reason}: {shown}")
    print()


def main(argv: list[str]) -> int:
    if argv == ["walk"]:
        print(json.dumps(walk(), default=str))
    elif not argv or argv == ["--quick"]:
        run(quick=bool(argv))
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
