"""The closing table of ``make bench``: every target next to its baseline, from this one run.

Each section records what it measured with :func:`record` as it goes; :func:`print_summary`
prints one Markdown table at the end (the README's benchmark table is pasted from it), with
``met`` / ``not met`` where a target applies. A section that was skipped (no PostgreSQL, or
``--only`` another one) simply has no rows.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def print_summary() -> None:
    """Print the table of this run (nothing when no section recorded a figure)."""
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
