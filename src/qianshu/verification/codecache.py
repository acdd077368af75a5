"""Compiled dataclass methods kept between runs of ``qianshu verify`` (a start-up cache).

A third of the command's start-up went to one thing: every ``@dataclass`` in pyHanko, its
certificate validator and our own modules (some 130 classes, 700 methods) has its
``__init__``, ``__repr__``, ``__eq__`` … written as source text and compiled by the standard
library's ``dataclasses`` at import time, in every process — unlike the modules themselves,
whose bytecode Python keeps in ``__pycache__``. :func:`compiled_dataclass_methods` keeps the
compiled code of that text the same way: while the verifier is imported, the ``exec`` calls of
``dataclasses`` are given the code object compiled from the same source text, read from
``$XDG_CACHE_HOME/qianshu`` (``~/.cache/qianshu``), and whatever text was new is compiled and
written back once the imports are done.

What it keeps cannot change behaviour: the key is the full source text, and ``exec`` of the
text and ``exec`` of the code compiled from it with the same file name and compiler flags do
the same (the generated text names its inputs — defaults, types, the class — and
``dataclasses`` passes them in at ``exec`` time; no object identity is in the text). The file
is per Python bytecode version, read only when it is the user's own and writable by nobody
else (it holds code), and written atomically, only into the user's own folder; any problem
with it (missing, damaged, foreign) means compiling as before. Nothing is patched outside the
``with`` block, and nothing at all without ``HOME`` or ``XDG_CACHE_HOME`` in the environment.
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib.util
import marshal
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from types import CodeType
from typing import Any

_FORMAT = b"qianshu-dataclass-code-2\n"


def cache_file() -> str | None:
    """Where the compiled methods are kept, or None when there is no cache directory."""
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ["HOME"], ".cache") if os.environ.get("HOME") else ""
    )
    if not base:
        return None
    name = f"dataclass-code-{importlib.util.MAGIC_NUMBER.hex()}.marshal"
    return os.path.join(base, "qianshu", name)


def _load(path: str) -> dict[str, CodeType]:
    try:
        with open(path, "rb") as file:
            info = os.fstat(file.fileno())
            if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return {}
            data = file.read()
        if not data.startswith(_FORMAT):
            return {}
        found = marshal.loads(data[len(_FORMAT) :])  # noqa: S302 - our own file, checked above
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, CodeType)}


def _save(path: str, codes: dict[str, CodeType]) -> None:
    folder = os.path.dirname(path)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if os.stat(folder).st_uid != os.getuid():
            return  # someone else's cache (``sudo`` keeping ``HOME``): leave it alone
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(_FORMAT + marshal.dumps(codes))
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


class _Methods:
    """The ``exec`` that ``dataclasses`` calls while the cache is in use."""

    def __init__(self, known: dict[str, CodeType]) -> None:
        self.known = known
        self.used: dict[str, CodeType] = {}
        self.compiled = 0

    def __call__(self, source: Any, namespace: Any = None, local_namespace: Any = None) -> None:
        if not isinstance(source, str):
            builtins.exec(source, namespace, local_namespace)  # noqa: S102 - as dataclasses does
            return
        code = self.known.get(source)
        if code is None:
            # As ``exec`` compiles text: that file name, and the future flags of the caller
            # (``dataclasses`` has none), not this module's ``annotations``.
            code = compile(source, "<string>", "exec", dont_inherit=True)
            self.compiled += 1
        self.used[source] = code
        builtins.exec(code, namespace, local_namespace)  # noqa: S102 - as dataclasses does


@contextmanager
def compiled_dataclass_methods() -> Iterator[_Methods | None]:
    """Within the block, dataclasses reuse the methods compiled by earlier runs (module
    docstring); on leaving it, new ones are saved. Yields None when there is no cache."""
    path = cache_file()
    if path is None or "exec" in vars(dataclasses):
        yield None
        return
    methods = _Methods(_load(path))
    dataclasses.exec = methods  # type: ignore[attr-defined]
    try:
        yield methods
    finally:
        del dataclasses.exec  # type: ignore[attr-defined]
    if methods.compiled:
        _save(path, methods.used)
