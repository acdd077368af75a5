"""The ``qianshu`` console command: the project's ``manage.py``.

Hyphenated command names map to Django's module names: ``qianshu init-pki`` runs ``init_pki``.
``qianshu verify`` is handed to :mod:`qianshu.verification.cli` before Django is imported:
verifying a file needs neither the settings nor the apps, and starts in a fraction of the time.
"""

from __future__ import annotations

import gc
import os
import sys


def _verify(argv: list[str]) -> int:
    """``qianshu verify`` as a process of its own (see :mod:`qianshu.verification.cli`):
    the imports run without cyclic garbage collection, reusing the dataclass methods compiled
    by earlier runs (:mod:`qianshu.verification.codecache`), and what they made is frozen, so
    no collection (in this process, in its limited child, at exit) traverses it again."""
    gc.disable()
    try:
        from qianshu.verification import cli, codecache

        with codecache.compiled_dataclass_methods():
            cli.load_verifier()
    finally:
        gc.freeze()
        gc.enable()
    code = cli.main(argv)
    gc.freeze()  # the report is printed: the collections at exit would free nothing useful
    return code


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv if argv is None else argv)
    if len(args) > 1 and args[1] == "verify":
        raise SystemExit(_verify(args[2:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qianshu.settings")
    from django.core.management import execute_from_command_line

    if len(args) > 1 and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
