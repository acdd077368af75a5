"""Throwaway PostgreSQL databases of the benchmarks.

Each section that needs PostgreSQL makes its own database on the server of
``QIANSHU_BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/postgres``) and drops
it afterwards, so that no run sees another's rows.
"""

from __future__ import annotations

import os

SERVER = os.environ.get("QIANSHU_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def url(name: str) -> str:
    """The URL of database ``name`` on the bench server."""
    return f"{SERVER.rsplit('/', 1)[0]}/{name}"


def admin(sql: str) -> None:
    """Run ``sql`` on the server's maintenance database (CREATE / DROP DATABASE)."""
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(sql)


def reset(name: str) -> None:
    """Drop database ``name`` if a previous run left it, and create it empty (raises when the
    server cannot be reached)."""
    drop(name)
    admin(f"CREATE DATABASE {name}")


def drop(name: str) -> None:
    admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def setup_django(name: str, blob_dir: str) -> None:
    """Point this process's Django at database ``name`` with local blobs in ``blob_dir`` (the
    bench settings), set it up and migrate."""
    os.environ["DATABASE_URL"] = url(name)
    os.environ["QIANSHU_STORAGE"] = "local"
    os.environ["QIANSHU_STORAGE_DIR"] = blob_dir
    os.environ["QIANSHU_DATA_DIR"] = blob_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
