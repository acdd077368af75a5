"""Settings come from the environment; production refuses to start without its secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(
        [sys.executable, "-m", "qianshu", *args],
        env={**base, "DJANGO_SETTINGS_MODULE": "qianshu.settings", **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    result = _run({"QIANSHU_DATA_DIR": str(tmp_path)}, "check")
    assert result.returncode != 0
    assert "QIANSHU_SECRET_KEY" in result.stderr
    assert not (tmp_path / "dev-secrets.json").exists()


def test_secrets_from_files_and_checks(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("x" * 50)
    master = tmp_path / "master"
    master.write_text("too-short")
    env = {
        "QIANSHU_DATA_DIR": str(tmp_path),
        "QIANSHU_SECRET_KEY_FILE": str(secret),
        "QIANSHU_MASTER_KEY_FILE": str(master),
    }
    result = _run(env, "check")
    assert result.returncode != 0
    assert "qianshu.E001" in result.stderr
    master.write_text("dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmchISE=")
    assert _run(env, "check").returncode == 0
    public = _run(
        {**env, "QIANSHU_DEBUG": "1", "QIANSHU_PUBLIC_URL": "https://sign.example.cn"}, "check"
    )
    assert public.returncode != 0 and "qianshu.E002" in public.stderr


def test_development_mode_generates_persistent_secrets(tmp_path: Path) -> None:
    env = {"QIANSHU_DATA_DIR": str(tmp_path), "QIANSHU_DEBUG": "1"}
    assert _run(env, "check").returncode == 0
    stored = (tmp_path / "dev-secrets.json").read_text()
    assert _run(env, "check").returncode == 0
    assert (tmp_path / "dev-secrets.json").read_text() == stored
    assert oct((tmp_path / "dev-secrets.json").stat().st_mode & 0o777) == "0o600"


def test_bad_boolean_is_a_clear_error(tmp_path: Path) -> None:
    result = _run({"QIANSHU_DATA_DIR": str(tmp_path), "QIANSHU_DEBUG": "maybe"}, "check")
    assert result.returncode != 0 and "QIANSHU_DEBUG must be a boolean" in result.stderr


def _printed_on_postgresql(tmp_path: Path, code: str, **env: str) -> str:
    """The last line ``code`` prints in ``qianshu shell`` on the test run's PostgreSQL server
    (development settings), with ``env`` added to its environment."""
    base = {
        "QIANSHU_DATA_DIR": str(tmp_path),
        "QIANSHU_DEBUG": "1",
        "DATABASE_URL": os.environ["DATABASE_URL"],
    }
    result = _run({**base, **env}, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.postgres
def test_postgresql_sessions_run_without_jit(tmp_path: Path) -> None:
    """A list's deep page has a high cost estimate, which makes PostgreSQL compile it to
    machine code first (tens of milliseconds): the platform's sessions turn JIT off, unless
    QIANSHU_DB_JIT=1 keeps what the server (here: the client's PGOPTIONS) says."""
    show = "from django.db import connection as c; k = c.cursor(); k.execute('SHOW jit'); "
    show += "print(k.fetchone()[0])"
    server = "-c jit=on"  # what the session would have without the platform's say
    assert _printed_on_postgresql(tmp_path, show, PGOPTIONS=server) == "off"
    assert _printed_on_postgresql(tmp_path, show, PGOPTIONS=server, QIANSHU_DB_JIT="1") == "on"


@pytest.mark.postgres
def test_postgresql_statements_run_again_are_prepared(tmp_path: Path) -> None:
    """A statement a connection runs a third time is prepared on the server (parsed and
    planned once); QIANSHU_DB_PREPARED=0 binds parameters on the client and prepares
    nothing."""
    show = "from django.db import connection as c; k = c.cursor()\n"
    show += "for n in range(3): k.execute('SELECT %s::int + 1', [n])\n"
    show += "k.execute('SELECT count(*) FROM pg_prepared_statements'); print(k.fetchone()[0])"
    assert _printed_on_postgresql(tmp_path, show) == "1"
    assert _printed_on_postgresql(tmp_path, show, QIANSHU_DB_PREPARED="0") == "0"
