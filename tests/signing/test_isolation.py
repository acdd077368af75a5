"""Resource-limited execution of untrusted parsing."""

from __future__ import annotations

import gc

import pytest

from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.errors import SigningError
from qianshu.signing.isolation import LimitExceeded, Limits, run_limited
from qianshu.signing.verify import verify_pdf_limited


def _square(x: int) -> int:
    return x * x


def _spin() -> None:
    while True:
        pass


def _hog() -> bytes:
    blocks = []
    while True:
        blocks.append(bytearray(50 * 1024 * 1024))


def _fail() -> None:
    raise KeyError("boom")


def test_result_comes_back() -> None:
    assert run_limited(_square, 12) == 144


def test_cpu_limit_stops_a_spinning_parser() -> None:
    with pytest.raises(LimitExceeded):
        run_limited(_spin, limits=Limits(cpu_seconds=1, wall_seconds=10))


def test_memory_limit_stops_a_hog() -> None:
    with pytest.raises(LimitExceeded):
        run_limited(_hog, limits=Limits(memory_bytes=400 * 1024 * 1024, wall_seconds=20))


def _small() -> int:
    return len(bytearray(20 * 1024 * 1024))


def test_the_memory_budget_is_on_top_of_the_inherited_address_space() -> None:
    """A parent holding more address space than the budget (a long-running web process with
    threads and native libraries) still gets its harmless work done in the child, and a hog
    is still stopped there."""
    import mmap

    reserved = mmap.mmap(-1, 1024 * 1024 * 1024)  # 1 GiB of address space, never touched
    try:
        limits = Limits(memory_bytes=400 * 1024 * 1024, wall_seconds=20)
        assert run_limited(_small, limits=limits) == 20 * 1024 * 1024
        with pytest.raises(LimitExceeded):
            run_limited(_hog, limits=limits)
    finally:
        reserved.close()


def test_wall_clock_limit() -> None:
    import time

    with pytest.raises(LimitExceeded):
        run_limited(time.sleep, 5, limits=Limits(wall_seconds=0.5))


def test_child_errors_become_signing_errors() -> None:
    with pytest.raises(SigningError) as info:
        run_limited(_fail)
    assert "KeyError" in str(info.value)


def test_limited_verification_reports_instead_of_raising() -> None:
    platform = EphemeralPlatform()
    report = verify_pdf_limited(b"%PDF-1.7\n" + b"0" * 100, platform.trust)
    assert report.verdict == "indeterminate"
    report = verify_pdf_limited(
        b"%PDF-1.7\n%%EOF\n", platform.trust, Limits(memory_bytes=1, wall_seconds=10)
    )
    assert report.verdict == "indeterminate"


def _collector_state() -> tuple[int, int, int]:
    """In the child: frozen objects, then the cycles a collection frees among new objects."""
    frozen = gc.get_freeze_count()

    class Node:
        pass

    for _ in range(100):
        a, b = Node(), Node()
        a.other, b.other = b, a  # type: ignore[attr-defined]
    del a, b
    return frozen, gc.collect(), int(gc.isenabled())


def test_the_child_leaves_what_it_inherited_to_the_parent_collector() -> None:
    """The child freezes the objects it inherits: its collections never walk (and so never
    copy) the parent's heap — a long-running web process made each limited verification pay
    for its whole heap — while its own garbage is collected as usual."""
    inherited = len(gc.get_objects())
    before = gc.get_freeze_count()
    frozen, freed, enabled = run_limited(_collector_state)
    assert frozen >= inherited // 2 and frozen > before
    assert freed >= 200 and enabled == int(gc.isenabled())
    assert gc.get_freeze_count() == before  # the parent is untouched
