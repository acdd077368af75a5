"""``qianshu verify`` as a user runs it: a whole process, without Django (issue 11, item 8).

Timing is measured by ``make bench``, not asserted here; these tests check that the fast path
is the one taken (Django is never imported), that it trusts the same roots as the platform
(read straight from the database), and that exit codes and output are right.
"""

from __future__ import annotations

import ast
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.db import connection

from qianshu.signing import pki
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.verification import roots
from tests.signing import helpers

SRC = Path(__file__).resolve().parents[2] / "src"


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return EphemeralPlatform()


@pytest.fixture(scope="module")
def signed(platform: EphemeralPlatform, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "signed.pdf"
    doc = helpers.signed_document(platform)
    assert doc.finished is not None
    path.write_bytes(doc.finished)
    return path


@pytest.fixture(scope="module")
def root_pem(platform: EphemeralPlatform, signed: Path) -> Path:
    path = signed.parent / "root.pem"
    path.write_bytes(pki.certificate_pem(platform.pki.root.certificate))
    return path


def _run(
    *args: str, env: dict[str, str] | None = None, data_dir: Path
) -> subprocess.CompletedProcess:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(SRC),
        "QIANSHU_DATA_DIR": str(data_dir),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "qianshu", "verify", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def test_valid_file(signed: Path, root_pem: Path, tmp_path: Path) -> None:
    result = _run(str(signed), "--trust", str(root_pem), data_dir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Verdict: VALID")
    assert not result.stderr  # pyHanko's own log lines stay out of the user's way


def test_json_report(signed: Path, root_pem: Path, tmp_path: Path) -> None:
    result = _run(str(signed), "--json", "--trust", str(root_pem), data_dir=tmp_path)
    report = json.loads(result.stdout)
    assert result.returncode == 0
    assert report["verdict"] == "valid"
    assert {
        s["pades_level"] for s in report["signatures"] if s["kind"] != "document_timestamp"
    } == {"B-LTA"}


def test_untrusted_without_roots(signed: Path, tmp_path: Path) -> None:
    result = _run(str(signed), data_dir=tmp_path)  # no database, no --trust
    assert result.returncode == 2
    assert "not trusted" in result.stdout


def test_exit_codes_for_tampered_and_unreadable_files(
    signed: Path, root_pem: Path, tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(signed.read_bytes() + b"\n% appended\n")
    assert _run(str(tampered), "--trust", str(root_pem), data_dir=tmp_path).returncode == 1
    missing = _run(str(tmp_path / "missing.pdf"), data_dir=tmp_path)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    bad_roots = tmp_path / "bad.pem"
    bad_roots.write_text("not a certificate")
    result = _run(str(signed), "--trust", str(bad_roots), data_dir=tmp_path)
    assert result.returncode == 2 and "cannot be loaded" in result.stderr


def test_standard_input(signed: Path, root_pem: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "qianshu", "verify", "-", "--trust", str(root_pem)],
        input=signed.read_bytes(),
        capture_output=True,
        env={"PYTHONPATH": str(SRC), "QIANSHU_DATA_DIR": str(tmp_path)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_verify_never_imports_django(signed: Path, root_pem: Path, tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from qianshu.__main__ import main\n"
        "try:\n"
        f"    main(['qianshu', 'verify', {str(signed)!r}, '--trust', {str(root_pem)!r}])\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "print(code, 'django' in sys.modules, 'pyhanko.sign.signers' in sys.modules)\n"
    )
    result = _python(probe, tmp_path)
    assert result.stdout.strip().splitlines()[-1] == "0 False False", result.stdout + result.stderr


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``code`` run by a fresh interpreter that finds our sources and nothing of the suite's."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "QIANSHU_DATA_DIR": str(tmp_path)},
        timeout=120,
    )


_LAZY = ("json", "sqlite3", "pathlib", "ctypes", "pypdfium2", "PIL", "psycopg")


def _start_up_probe(args: list[str], tmp_path: Path) -> dict[str, object]:
    """Run the console script's ``verify`` path in a fresh interpreter; what it imported and
    what it left to the garbage collector."""
    probe = (
        "import gc, sys\n"
        "from qianshu.__main__ import _verify\n"
        f"code = _verify({args!r})\n"
        f"loaded = sorted(m for m in {_LAZY!r} if m in sys.modules)\n"
        "print(repr({'code': code, 'loaded': loaded, 'frozen': gc.get_freeze_count(), "
        "'enabled': gc.isenabled()}))\n"
    )
    result = _python(probe, tmp_path)
    assert result.returncode == 0, result.stderr
    found: dict[str, object] = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    return found


def test_verify_start_up_imports_only_what_the_file_needs(
    signed: Path, root_pem: Path, tmp_path: Path
) -> None:
    """Start-up time is mostly imports: JSON output, the SQLite and PostgreSQL drivers (no
    database here), pathlib, and the page renderer (PDFium, Pillow, ctypes: no appearance
    added after a signature) stay out of a plain text run."""
    text = _start_up_probe([str(signed), "--trust", str(root_pem)], tmp_path)
    assert text["code"] == 0
    assert text["loaded"] == []
    as_json = _start_up_probe([str(signed), "--trust", str(root_pem), "--json"], tmp_path)
    assert as_json["code"] == 0
    assert as_json["loaded"] == ["json"]  # the probe sees an import when there is one


def test_verify_start_up_freezes_what_the_imports_made(
    signed: Path, root_pem: Path, tmp_path: Path
) -> None:
    """The imports' objects are frozen for the garbage collector (none of them is garbage), and
    the collector is on again for the verification itself."""
    found = _start_up_probe([str(signed), "--trust", str(root_pem)], tmp_path)
    assert found["code"] == 0
    assert isinstance(found["frozen"], int) and found["frozen"] > 50_000
    assert found["enabled"] is True


def test_platform_root_from_the_sqlite_database(
    signed: Path, platform: EphemeralPlatform, tmp_path: Path
) -> None:
    """The settings' default database (``QIANSHU_DATA_DIR/qianshu.sqlite3``), no --trust."""
    database = tmp_path / "qianshu.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE pki_platformkey (role TEXT, certificate_der BLOB)")
        conn.execute(
            "INSERT INTO pki_platformkey VALUES ('root', ?)",
            (_der(platform.pki.root.certificate),),
        )
    result = _run(str(signed), data_dir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    extra = _run(
        str(signed),
        env={"QIANSHU_EXTRA_TRUST_ROOTS": str(tmp_path / "missing.pem")},
        data_dir=tmp_path,
    )
    assert extra.returncode == 2 and "cannot be loaded" in extra.stderr


@pytest.mark.django_db
def test_root_query_matches_the_pki_tables() -> None:
    """The plain query reads what the platform stored (SQLite or PostgreSQL test database)."""
    from qianshu.pki.actions import do_init_pki
    from qianshu.pki.models import PlatformKey
    from qianshu.pki.platform import load_platform

    do_init_pki(name="测试")
    assert PlatformKey._meta.db_table == "pki_platformkey"
    with connection.cursor() as cursor:
        cursor.execute(roots._ROOT_QUERY)
        (der,) = cursor.fetchone()
    assert bytes(der) == _der(load_platform().pki.root.certificate)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_platform_root_from_postgresql() -> None:
    from qianshu.pki.actions import do_init_pki
    from qianshu.pki.platform import load_platform

    do_init_pki(name="测试")
    s = connection.settings_dict
    url = (
        f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST'] or '127.0.0.1'}:"
        f"{s['PORT'] or 5432}/{s['NAME']}"
    )
    assert roots.platform_root_der(url) == _der(load_platform().pki.root.certificate)
    assert roots.platform_root_der(url.rsplit("/", 1)[0] + "/postgres") is None  # no tables


def test_database_url_mirrors_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("QIANSHU_DATA_DIR", str(tmp_path))
    assert roots.database_url() == f"sqlite:///{tmp_path.resolve() / 'qianshu.sqlite3'}"
    assert roots.platform_root_der() is None  # no file yet
    with pytest.raises(roots.UnsupportedDatabase):
        roots.platform_root_der("mysql://u@h/db")
