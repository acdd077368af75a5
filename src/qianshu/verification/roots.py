"""The verifier's trust roots, read without starting Django (for ``qianshu verify``).

The same roots as :func:`qianshu.verification.trust.verifier_trust`: the platform root
certificate, the PEM bundle named by ``QIANSHU_EXTRA_TRUST_ROOTS`` and any ``--trust`` bundle.
The platform root is the certificate of the platform key with role ``root`` (the
``pki_platformkey`` table of :mod:`qianshu.pki`), read with one plain SQL query from the
database the settings would use: ``DATABASE_URL``, else the SQLite file in
``QIANSHU_DATA_DIR`` (``./var``), exactly as ``settings.py`` derives it. Only SQLite and
PostgreSQL URLs are read (the databases the platform supports); any other raises
:class:`UnsupportedDatabase`. Being on the start-up path of ``qianshu verify``, it imports the
database drivers only when there is a database to read (and uses ``os.path``, not ``pathlib``).
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

_ROOT_QUERY = "SELECT certificate_der FROM pki_platformkey WHERE role = 'root'"
_POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "postgis"}


class UnsupportedDatabase(Exception):
    """The configured database cannot be read without Django."""


class RootsError(Exception):
    """A configured trust root cannot be loaded (the message says which and why)."""


def database_url() -> str:
    """``DATABASE_URL``, or the SQLite default of ``settings.py``."""
    data_dir = os.environ.get("QIANSHU_DATA_DIR", os.path.join(os.getcwd(), "var"))
    database = os.path.join(os.path.realpath(data_dir), "qianshu.sqlite3")
    return os.environ.get("DATABASE_URL", f"sqlite:///{database}")


def platform_root_der(url: str | None = None) -> bytes | None:
    """The platform root certificate (DER), or None when no PKI was created yet."""
    url = url or database_url()
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        return _sqlite_root(unquote(urlsplit(url).path[1:]))
    if scheme in _POSTGRES_SCHEMES:
        return _postgres_root(url)
    raise UnsupportedDatabase(
        f"cannot read the platform root from a {scheme!r} database: pass --trust ROOTS.pem"
    )


def _sqlite_root(path: str) -> bytes | None:
    if not path or path == ":memory:" or not os.path.isfile(path):
        return None
    import sqlite3

    try:
        with sqlite3.connect(f"file:{os.path.realpath(path)}?mode=ro", uri=True) as conn:
            row = conn.execute(_ROOT_QUERY).fetchone()
    except sqlite3.OperationalError:  # no such table: migrations never ran here
        return None
    return bytes(row[0]) if row else None


def _postgres_root(url: str) -> bytes | None:
    import psycopg

    if urlsplit(url).scheme.lower() != "postgresql":
        url = "postgresql" + url[url.index(":") :]
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            row = conn.execute(_ROOT_QUERY).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    except psycopg.Error as exc:
        raise RootsError(f"the database cannot be read: {exc}") from exc
    return bytes(row[0]) if row else None


def pem_certificates(path: str) -> list[bytes]:
    """The DER certificates of a PEM bundle."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        with open(path, "rb") as file:
            certs = x509.load_pem_x509_certificates(file.read())
    except (OSError, ValueError) as exc:
        raise RootsError(f"trust roots {path!r} cannot be loaded: {exc}") from exc
    return [c.public_bytes(Encoding.DER) for c in certs]


def trust_roots_der(extra_path: str | None = None) -> list[bytes]:
    """Platform root, ``QIANSHU_EXTRA_TRUST_ROOTS`` and ``extra_path``, as DER certificates."""
    roots: list[bytes] = []
    root = platform_root_der()
    if root is not None:
        roots.append(root)
    configured = os.environ.get("QIANSHU_EXTRA_TRUST_ROOTS", "")
    for path in (configured, extra_path):
        if path:
            roots += pem_certificates(path)
    return roots
