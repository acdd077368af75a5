"""导入学生名单 in two steps, as the school's pages do it: the uploaded file is checked and kept
(:func:`do_stage_roster`), the check page lists every row's problems, and 确认导入 imports the
kept file (:func:`do_import_staged_roster`) — never a file sent back by the browser.

The kept file holds full ID numbers, which the roster itself never stores (only their keyed
hash and a masked form): it is stored encrypted at rest, under a purpose of its own, and
deleted once imported or discarded. The caller keeps the returned id (the blob's SHA-256) where
the user cannot change it (the session); a file abandoned before 确认导入 stays an unreferenced
blob.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core import sheets
from qianshu.employment import roster
from qianshu.employment.actions.employers import require_school_admin
from qianshu.employment.actions.schools import do_import_roster
from qianshu.employment.errors import EmploymentError
from qianshu.employment.models import School
from qianshu.storage import encryption
from qianshu.storage.actions import do_delete_blob, do_store_encrypted_blob
from qianshu.storage.models import Blob

PURPOSE = encryption.EMPLOYMENT_ROSTER


def check_year(year: int) -> int:
    if not 2000 <= year <= timezone.localdate().year + 10:
        raise EmploymentError(_("请选择正确的毕业届。"), field="year")
    return year


def _check(school: School, year: int, data: bytes) -> roster.RosterCheck:
    try:
        checked = roster.check(school, year, data)
    except sheets.SheetError as exc:
        raise EmploymentError(str(exc), field="file") from exc
    if not checked.rows:
        raise EmploymentError(_("文件中没有学生（请从第 3 行起每行填写一名学生）。"), field="file")
    return checked


def do_stage_roster(
    school: School, year: int, data: bytes, *, actor: User
) -> tuple[str, roster.RosterCheck]:
    """上传并检查: ``data`` checked row by row and kept, encrypted, for 确认导入; nothing is
    imported. Returns the kept file's id and the check. A file that cannot be read at all, or
    has no student, is refused and not kept."""
    require_school_admin(school, actor)
    checked = _check(school, check_year(year), data)
    blob = do_store_encrypted_blob(data, content_type=sheets.XLSX_TYPE, purpose=PURPOSE)
    return blob.sha256, checked


def _staged(sha256: str) -> Blob:
    blob = Blob.objects.filter(sha256=sha256, encryption_purpose=PURPOSE).first()
    if blob is None:
        raise EmploymentError(_("上传的文件已失效，请重新上传。"), field="file")
    return blob


def staged_check(school: School, year: int, sha256: str) -> roster.RosterCheck:
    """The check of a kept file against the roster as it is now."""
    return _check(school, year, _staged(sha256).read())


def do_import_staged_roster(school: School, year: int, sha256: str, *, actor: User) -> int:
    """确认导入: the kept file imported (checked again: a problem imports nothing, and the file
    stays for another look), then deleted. Returns the number of students imported."""
    blob = _staged(sha256)
    try:
        imported = do_import_roster(school, check_year(year), blob.read(), actor=actor)
    except sheets.SheetError as exc:
        raise EmploymentError(str(exc), field="file") from exc
    do_delete_blob(blob.sha256)
    return imported


def do_discard_staged_roster(sha256: str) -> None:
    """取消 / a new upload: the kept file is deleted (only a kept roster file, by its id)."""
    if Blob.objects.filter(sha256=sha256, encryption_purpose=PURPOSE).exists():
        do_delete_blob(sha256)
