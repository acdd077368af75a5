"""Spreadsheets users download, fill in and upload (批量发起, 导入学生名单, 导入拟签约名单).

:func:`workbook` writes a template: a header row, an example row (ignored on import while it
is still the example), text cells, required columns highlighted, and Excel's own data
validation where it has one (11-digit phone numbers, lists). :func:`read_rows` reads an upload
back: the archive's directory is checked first (a hostile XLSX can expand to gigabytes), then
the first sheet is parsed — streaming, openpyxl's read-only mode — in a child process with CPU,
memory and time limits (:func:`qianshu.signing.isolation.run_limited`); only the rows come back,
by column key. Columns are found by their header text, in any order. Problems with the file as
a whole raise :class:`SheetError` with a message for the user; checking each row is the
caller's.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from qianshu.signing.errors import SigningError
from qianshu.signing.isolation import LimitExceeded, Limits, run_limited

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
PARSE_LIMITS = Limits(cpu_seconds=60, memory_bytes=768 * 1024 * 1024, wall_seconds=120)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class SheetError(Exception):
    """The file cannot be used at all (not a spreadsheet, no header, too many rows)."""


@dataclass(frozen=True)
class SheetColumn:
    key: str
    header: str
    example: str
    required: bool = False
    width: int = 18
    #: "phone" adds Excel's 11-digit rule; a list adds Excel's drop-down of those values
    validation: str | tuple[str, ...] = ""


def workbook(cols: Sequence[SheetColumn], sheet_title: str, note: str, max_rows: int) -> bytes:
    """The template: header, example row, text cells, validations; ``note`` as the comment of
    the first header cell."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = re.sub(r"[\[\]:*?/\\]", "", sheet_title)[:31] or "Sheet1"
    sheet.append([c.header for c in cols])
    sheet.append([c.example for c in cols])
    bold, grey = Font(bold=True), Font(italic=True, color="888888")
    for index, column in enumerate(cols, start=1):
        letter = get_column_letter(index)
        head = sheet.cell(row=1, column=index)
        head.font = bold
        if column.required:
            head.fill = PatternFill("solid", fgColor="FFF3BF")
        sheet.cell(row=2, column=index).font = grey
        sheet.cell(row=2, column=index).number_format = "@"
        sheet.column_dimensions[letter].width = column.width
        rule = None
        if column.validation == "phone":
            rule = DataValidation(
                type="textLength", operator="equal", formula1="11", allow_blank=True
            )
            rule.error = _("请输入 11 位手机号码。")
            rule.errorTitle = _("手机号格式不正确")
        elif isinstance(column.validation, tuple) and column.validation:
            listed = ",".join(column.validation)
            if len(listed) <= 250 and '"' not in listed:  # Excel's list limit
                rule = DataValidation(type="list", formula1=f'"{listed}"', allow_blank=True)
                rule.error = _("请从列表中选择。")
        if rule is not None:
            sheet.add_data_validation(rule)
            rule.add(f"{letter}3:{letter}{max_rows + 2}")
    sheet.cell(row=1, column=1).comment = Comment(note, "Qianshu")
    sheet.freeze_panes = "A3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def cell_text(value: object) -> str:
    """A cell as text: whitespace collapsed, a number typed as a number without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone number typed as a number
    return " ".join(str(value).split())


def read_rows(
    data: bytes, cols: Sequence[SheetColumn], max_rows: int
) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, values by column key) of each non-empty row after the header; the example
    row is skipped while it is still the example. Raises :class:`SheetError`."""
    if len(data) > MAX_FILE_BYTES:
        raise SheetError(_("文件过大（最大 20 MB）。"))
    _check_archive(data)
    headers = [(c.key, c.header) for c in cols]
    example = {c.key: c.example for c in cols}
    try:
        status, result = run_limited(
            parse_sheet, data, headers, example, max_rows, limits=PARSE_LIMITS
        )
    except LimitExceeded as exc:
        raise SheetError(_("文件过于复杂，无法在限定时间和内存内读取，请检查文件。")) from exc
    except SigningError as exc:  # the parser failed in an unexpected way
        raise SheetError(unreadable()) from exc
    if status != "ok":
        raise SheetError(str(result))
    yield from result


def unreadable() -> str:
    return _("无法读取该文件，请上传从本页下载的 Excel（.xlsx）模板填写后的文件。")


def _check_archive(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SheetError(unreadable()) from exc
    if expanded > MAX_UNZIPPED_BYTES:
        raise SheetError(_("文件解压后过大，请删除多余的内容后重新上传。"))


def parse_sheet(
    data: bytes,
    headers: Sequence[tuple[str, str]],
    example: dict[str, str],
    max_rows: int,
) -> tuple[str, Any]:
    """The rows of the first sheet as ``("ok", [(number, values), …])`` or ``("error",
    message)``. Runs in the limited child (module level: it is pickled by name)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - zip, XML and openpyxl errors: not a usable XLSX file
        return "error", unreadable()
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            return "error", _("文件中没有工作表。")
        rows = sheet.iter_rows(values_only=True)
        header = [cell_text(v) for v in next(rows, ())]
        positions: dict[str, int] = {}
        for key, title in headers:
            if title not in header:
                return "error", _("表头缺少“%(name)s”列，请使用本页下载的最新 Excel 模板。") % {
                    "name": title
                }
            positions[key] = header.index(title)
        out: list[tuple[int, dict[str, str]]] = []
        for number, raw in enumerate(rows, start=2):
            cells = list(raw)
            values = {
                key: cell_text(cells[pos]) if pos < len(cells) else ""
                for key, pos in positions.items()
            }
            if not any(values.values()) or (number == 2 and values == example):
                continue
            if len(out) >= max_rows:
                return "error", _("每次最多导入 %(n)d 行。") % {"n": max_rows}
            out.append((number, values))
        return "ok", out
    except Exception:  # noqa: BLE001 - a sheet openpyxl cannot read to the end
        return "error", unreadable()
    finally:
        book.close()
