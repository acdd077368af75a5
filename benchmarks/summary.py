"""The closing table of ``make bench``: every target next to its baseline, from this one run.

Each section records what it measured with :func:`record` as it goes; :func:`print_summary`
prints one Markdown table at the end (the README's benchmark table is pasted from it), with
``met`` / ``not met`` where a target applies. A section that was skipped (no PostgreSQL, or
``--only`` another one) simply has no rows.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

# Set in a child bench process (a section run in a process of its own): its rows go to this
# file for the parent's table instead of being printed.
_CHILD_FILE = "QIANSHU_BENCH_SUMMARY_FILE"


@dataclass(frozen=True)
class Row:
    what: str
    result: str
    baseline: str = ""
    target: str = ""
    met: bool | None = None


_ROWS: list[Row] = []


def record(
    what: str, result: str, *, baseline: str = "", target: str = "", met: bool | None = None
) -> None:
    """Add one line to the closing table (``met`` is None where no target applies)."""
    _ROWS.append(Row(what, result, baseline, target, met))


def rows() -> list[Row]:
    return list(_ROWS)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


@contextmanager
def from_child() -> Iterator[dict[str, str]]:
    """The environment for a child bench process; its rows join this process's table when
    the block ends."""
    with tempfile.TemporaryDirectory(prefix="qianshu-bench-summary-") as tmp:
        path = Path(tmp) / "rows.json"
        yield {**os.environ, _CHILD_FILE: str(path)}
        if path.is_file():
            _ROWS.extend(Row(**row) for row in json.loads(path.read_text("utf-8")))


def print_summary() -> None:
    """Print the table of this run (nothing when no section recorded a figure); in a child
    process, hand the rows to the parent instead."""
    child = os.environ.get(_CHILD_FILE)
    if child:
        Path(child).write_text(json.dumps([asdict(row) for row in _ROWS]), "utf-8")
        return
    if not _ROWS:
        return
    print("Summary (paste into the README's benchmark table)")
    print()
    print("| what | this run | baseline (same run) | target | |")
    print("|---|---|---|---|---|")
    for row in _ROWS:
        verdict = {True: "met", False: "**not met**", None: ""}[row.met]
        cells = (row.what, row.result, row.baseline, row.target, verdict)
        print("| " + " | ".join(_cell(c) for c in cells) + " |")
    print()
