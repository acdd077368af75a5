"""Real processes for end-to-end tests: Qianshu's web server and worker, and other programs
(the example procurement system), each on a free loopback port with its output in a log file.

* :func:`shared_database_url` gives a server process the database this test wrote its world
  into: on PostgreSQL the test database itself (the test must use
  ``django_db(transaction=True)`` so that its rows are committed); on SQLite, whose test
  database lives in this process's memory, a file copy made at that moment with SQLite's
  backup API — from then on neither side sees the other's writes, so such a test reads the
  server's state over HTTP only.
* :class:`Processes` starts commands in their own process group and stops every group it
  started (SIGTERM, then SIGKILL) when it closes; :func:`wait_for_http` and
  :func:`wait_until` are bounded and fail with the message given and the logs' tails.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import httpx
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
#: This checkout's code first: the processes run what the test tests.
PYTHONPATH = os.pathsep.join(str(p) for p in (ROOT / "src", ROOT, ROOT / "clients/python/src"))
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shared_database_url(folder: Path) -> str:
    """A ``DATABASE_URL`` under which another process sees what this test has committed."""
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = quote(settings["USER"] or "", safe="")
        if settings["PASSWORD"]:
            auth += ":" + quote(settings["PASSWORD"], safe="")
        host = settings["HOST"] or "127.0.0.1"
        port = settings["PORT"] or 5432
        return f"postgres://{auth}@{host}:{port}/{quote(settings['NAME'], safe='')}"
    if connection.vendor == "sqlite":
        path = folder / "qianshu.sqlite3"
        connection.ensure_connection()
        copy = sqlite3.connect(path)
        try:
            connection.connection.backup(copy)
        finally:
            copy.close()
        return f"sqlite:///{path}"
    raise NotImplementedError(f"no shared database for {connection.vendor}")


class Process:
    def __init__(self, name: str, popen: subprocess.Popen[bytes], log: Path) -> None:
        self.name = name
        self.popen = popen
        self.log = log

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def stop(self, grace: float = 5.0) -> None:
        """End the process group this process leads (it and what it started)."""
        if self.popen.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


class Processes:
    """Commands started for one test, all stopped by :meth:`close` (latest first)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Process] = []
        folder.mkdir(parents=True, exist_ok=True)

    def start(
        self, name: str, args: Sequence[str], *, env: Mapping[str, str], cwd: Path = ROOT
    ) -> Process:
        log = self.folder / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                list(args),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log)
        self.started.append(process)
        return process

    def run(
        self,
        name: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path = ROOT,
        timeout: float = 60,
    ) -> str:
        """Run a command to its end; its output, or an AssertionError with it."""
        try:
            done = subprocess.run(
                list(args),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"{name} did not finish within {timeout} s") from exc
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{name} failed ({done.returncode}):\n{output[-3000:]}"
        return done.stdout

    def tails(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.tail()}" for p in self.started)

    def check_alive(self) -> None:
        for process in self.started:
            if not process.alive():
                raise AssertionError(
                    f"{process.name} exited ({process.popen.returncode}):\n{process.tail(60)}"
                )

    def close(self) -> None:
        for process in reversed(self.started):
            process.stop()


def wait_for_http(processes: Processes, url: str, *, timeout: float = 60) -> None:
    """Until ``url`` answers (any status below 500); fails if a process exits meanwhile."""

    def answers() -> bool:
        try:
            return httpx.get(url, timeout=5).status_code < 500
        except httpx.TransportError:
            return False

    wait_until(answers, f"{url} did not answer", processes, timeout=timeout)


def wait_until(
    predicate: Callable[[], T | None],
    message: str,
    processes: Processes,
    *,
    timeout: float = 30,
    poll: float = 0.25,
) -> T:
    """The first true value of ``predicate()`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        processes.check_alive()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} within {timeout} s\n{processes.tails()}")
        time.sleep(poll)
