"""Where the offline root key comes from and goes to at a ceremony: a file or an environment
variable, never the database."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from qianshu.pki.actions import load_root_key, root_key_pem
from qianshu.signing.errors import PkiError
from qianshu.signing.keys import SoftwareSigningKey


def default_key_path() -> Path | None:
    """Development only: where ``init-pki`` leaves the root key when told nowhere else (a new
    file each time, so ``--force`` never meets the previous one)."""
    if not settings.DEBUG:
        return None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return settings.DATA_DIR / "pki" / f"root-ca-key-{stamp}.pem"


def add_passphrase_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--passphrase-env",
        metavar="NAME",
        help="environment variable holding the passphrase of the root key file",
    )


def passphrase(options: dict[str, object]) -> bytes | None:
    name = options.get("passphrase_env")
    if not name:
        return None
    value = os.environ.get(str(name))
    if not value:
        raise CommandError(f"the environment variable {name} is empty or not set")
    return value.encode("utf-8")


def write_key_file(path: Path, key: SoftwareSigningKey, secret: bytes | None) -> None:
    """Write the root key to a new file readable by its owner only (never overwrite one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CommandError(f"{path} exists: the root key is never written over a file") from None
    with os.fdopen(fd, "wb") as out:
        out.write(root_key_pem(key, secret))
        out.flush()
        os.fsync(out.fileno())


def read_key(options: dict[str, object]) -> SoftwareSigningKey:
    """The root key from ``--root-key FILE`` ("-" for standard input) or ``--root-key-env``."""
    if options.get("root_key_env"):
        name = str(options["root_key_env"])
        pem = os.environ.get(name, "").encode("utf-8")
        if not pem:
            raise CommandError(f"the environment variable {name} is empty or not set")
    elif options.get("root_key"):
        source = str(options["root_key"])
        try:
            pem = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {source}: {exc.strerror}") from None
    else:
        raise CommandError("give the root key with --root-key FILE or --root-key-env NAME")
    try:
        return load_root_key(pem, passphrase(options))
    except PkiError as exc:
        raise CommandError(str(exc)) from None
