"""Run untrusted-input parsing in a child process with CPU-time and memory limits.

A hostile PDF can make a parser spin or allocate without bound. :func:`run_limited` forks a
child, sets ``RLIMIT_CPU`` and ``RLIMIT_AS`` there, runs the function and sends its (picklable)
result back. If the child exceeds a limit, is killed or crashes, :class:`LimitExceeded` is
raised in the parent, which is never affected.

The memory limit is a budget on top of the address space the child inherits: a forked child
starts with its parent's mappings, and a long-running web or worker process (threads with
their malloc arenas and stacks, native libraries) can hold more virtual address space than
the budget itself — an absolute ``RLIMIT_AS`` would then refuse every allocation of the
child, and harmless files would fail as if they were hostile.

The child freezes the objects it inherits for the cyclic garbage collector (:func:`gc.freeze`,
which only moves list heads): its collections then walk only what it creates itself. Without
it, a collection of the oldest generation in the child — which the parent's collector state
can make due at once — walks every object of the parent and, by writing to each, copies the
parent's whole heap into the child: in a web process (some 300,000 objects) a limited
verification of the 9-signature contract took 350 ms of CPU instead of 120 ms. The child's
own garbage is collected as usual; the parent is not affected.
"""

from __future__ import annotations

import faulthandler
import gc
import multiprocessing
import resource
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from qianshu.signing.errors import SigningError

T = TypeVar("T")


class LimitExceeded(SigningError):
    """The work exceeded its CPU time, memory or wall-clock limit, or its process died."""

    code = "limit_exceeded"


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 30
    memory_bytes: int = 1536 * 1024 * 1024
    wall_seconds: float = 60.0


def _address_space() -> int:
    """The virtual address space this process maps now, in bytes (0 where unknown)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _child(conn: Connection, limits: Limits, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        # A native library that runs out of memory aborts: no core dump of a large process, and
        # no fault-handler traceback on the parent's stderr (the parent reports the limit).
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        faulthandler.disable()
        gc.freeze()  # see the module docstring
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        budget = _address_space() + limits.memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
        result = fn(*args)
        conn.send(("ok", result))
    except MemoryError:
        conn.send(("limit", "memory limit exceeded"))
    except BaseException as exc:  # noqa: BLE001 - report anything to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"))
    finally:
        conn.close()


def run_limited(fn: Callable[..., T], *args: Any, limits: Limits = Limits()) -> T:
    """Call ``fn(*args)`` in a forked child under ``limits`` and return its result.

    ``fn`` must be a module-level function with picklable arguments and result. Exceptions
    in the child come back as :class:`SigningError` (never re-raised as their own type).
    """
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(child, limits, fn, args), daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(limits.wall_seconds):
            raise LimitExceeded(f"took longer than {limits.wall_seconds:g} s")
        try:
            status, value = parent.recv()
        except EOFError:
            process.join(5)
            raise LimitExceeded(
                f"the worker process died (exit code {process.exitcode}): "
                "CPU or memory limit exceeded"
            ) from None
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        parent.close()
    if status == "ok":
        return value
    if status == "limit":
        raise LimitExceeded(str(value))
    raise SigningError(f"isolated call failed: {value}")
