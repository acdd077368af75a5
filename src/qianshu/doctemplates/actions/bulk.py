"""批量发起: import a spreadsheet as a checked batch, start it, and send its rows.

* :func:`do_import_batch` reads the file in streaming mode and stores every row with its
  problems (nothing is sent): the check page shows them.
* :func:`do_start_batch` marks the batch as sending; the view then enqueues
  ``tasks.send_batch``, which runs :func:`send_batch_rows`.
* :func:`do_remind_batch` reminds every envelope of the batch still in progress.
* :func:`send_batch_rows` sends the valid rows :data:`GROUP` at a time, each group in its own
  transaction: a row's failure is recorded on the row and never stops the others. Rows are
  claimed with ``SKIP LOCKED``, so a second worker (or a restarted one) continues where the
  first stopped and no row is sent twice. A row's draft is made and sent in its group's
  transaction (:func:`~qianshu.doctemplates.actions.templates.make_draft`,
  :func:`~qianshu.envelopes.actions.new_drafts.prepare_new_draft` for each row, then
  :func:`~qianshu.envelopes.actions.new_drafts.send_prepared_drafts` for the group): written
  once, never read back. When the group as a whole is refused (the allowance cannot hold it
  all, the sender may no longer send) or fails, it is rolled back and its rows are sent one
  by one, each in a savepoint of its own, where each refusal is the row's.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.errors import UserError
from qianshu.core.meta import RequestMeta
from qianshu.doctemplates import bulk
from qianshu.doctemplates.actions.templates import (
    SourceDocument,
    check_still_active,
    make_draft,
    usable_template,
    version_documents,
)
from qianshu.doctemplates.errors import TemplateError
from qianshu.doctemplates.models import Batch, BatchRow, Template, TemplateVersion
from qianshu.envelopes import audit
from qianshu.envelopes.actions import lifecycle, new_drafts
from qianshu.envelopes.actions.new_drafts import NewDraft
from qianshu.envelopes.compose import RecipientInput
from qianshu.envelopes.models import Envelope
from qianshu.envelopes.sending import SendLimitReached, within_allowance
from qianshu.orgs.models import Organization
from qianshu.pki.platform import PkiNotInitialised, Platform, load_platform
from qianshu.signing import cjkfont
from qianshu.signing.errors import ConfigurationError

log = logging.getLogger(__name__)
INSERT_CHUNK = 500
# From this many rows on, a run prepares the font for subsetting first (~0.5 s once, then
# ~3 ms less per row with data fields).
MANY_FILLS = 200
# Rows sent in one transaction: what they share is done once (the allowance lock, the audit
# events' INSERT, the rows' outcomes); a worker holds the allowance lock for the group's
# bookkeeping only, and its certifications run before, in parallel with another worker's.
GROUP = 10


def _number() -> str:
    return timezone.localtime().strftime("B%Y%m%d") + f"{secrets.randbelow(10**8):08d}"


def do_import_batch(version: TemplateVersion, data: bytes, filename: str, *, actor: User) -> Batch:
    """A checked batch of ``data`` (an XLSX file) for ``version``: every row stored with its
    problems, nothing sent. Raises :class:`TemplateError` when the file cannot be used."""
    if version.template.status != Template.Status.ACTIVE:
        raise TemplateError(_("该模板已归档，不能再使用。"))
    cols = bulk.columns(version.roles, version.data_fields)
    with transaction.atomic():
        batch = Batch.objects.create(
            number=_number(),
            version=version,
            created_by=actor,
            file_name=(filename or "batch.xlsx")[:200],
            file_sha256=hashlib.sha256(data).hexdigest(),
        )
        chunk: list[BatchRow] = []
        total = valid = 0
        try:
            rows = bulk.read_rows(data, cols)
            for row in bulk.check_rows(rows, cols, version.data_fields):
                total += 1
                valid += not row.problems
                chunk.append(
                    BatchRow(
                        batch=batch,
                        row_number=row.number,
                        values=row.values,
                        problems=row.problems,
                        status=BatchRow.Status.INVALID if row.problems else BatchRow.Status.PENDING,
                    )
                )
                if len(chunk) >= INSERT_CHUNK:
                    BatchRow.objects.bulk_create(chunk)
                    chunk = []
        except bulk.SheetError as exc:
            raise TemplateError(str(exc), field="file") from exc
        BatchRow.objects.bulk_create(chunk)
        if total == 0:
            raise TemplateError(_("文件中没有可导入的数据行（请从第 3 行起填写）。"), field="file")
        batch.total, batch.valid = total, valid
        batch.save(update_fields=["total", "valid"])
    return batch


def earlier_batches(batch: Batch) -> list[Batch]:
    """Batches of the same template imported from the same file before (sent twice?)."""
    return list(
        Batch.objects.filter(
            file_sha256=batch.file_sha256,
            version__template_id=batch.version.template_id,
            created_at__lt=batch.created_at,
        )
        .exclude(status=Batch.Status.CANCELLED)
        .order_by("-created_at")[:5]
    )


def do_start_batch(batch: Batch, *, actor: User) -> Batch:
    """发起: mark the batch as sending (the caller then enqueues ``tasks.send_batch``, which
    is safe to enqueue more than once)."""
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.created_by_id != actor.pk:
            raise TemplateError(_("只能发起自己导入的批次。"))
        if locked.status != Batch.Status.CHECKED:
            return locked
        if locked.valid == 0:
            raise TemplateError(_("没有可以发起的行，请修改文件后重新导入。"))
        locked.status = Batch.Status.SENDING
        locked.started_at = timezone.now()
        locked.save(update_fields=["status", "started_at"])
    return locked


def do_cancel_batch(batch: Batch, *, actor: User) -> None:
    """取消 a checked batch (nothing was sent)."""
    updated = Batch.objects.filter(
        pk=batch.pk, created_by=actor, status=Batch.Status.CHECKED
    ).update(status=Batch.Status.CANCELLED, finished_at=timezone.now())
    if not updated:
        raise TemplateError(_("该批次已发起或已取消。"))


@dataclass
class _Run:
    """What every row of one run of :func:`send_batch_rows` shares, read once: the version's
    documents (bytes and page boxes), the platform's keys (that certify each document), the
    version's fixed parties as cleaned (a fixed seal party's organisation resolved once) and
    its template (with its organisation)."""

    sources: list[SourceDocument]
    platform: Platform
    fixed: dict[tuple[int, RecipientInput], dict[str, Any]] = field(default_factory=dict)
    # The last row was over the allowance: the next counts it before certifying anything.
    limited: bool = False
    template: Template | None = None  # read with the run's first row that could use it


def _start_run(version: TemplateVersion) -> _Run:
    try:
        platform = load_platform()
    except PkiNotInitialised as exc:
        raise TemplateError(_("平台证书服务尚未初始化，请联系平台运营人员。")) from exc
    return _Run(version_documents(version), platform)


def _template(version: TemplateVersion, actor: User, run: _Run) -> Template:
    """The version's template, checked for the run's first row (active, the sender a member)
    and after it still active (that the sender is still a member is checked under the
    allowance lock, in a message naming the organisation)."""
    if run.template is None:
        run.template = usable_template(version, actor)
    else:
        check_still_active(version)
    return run.template


def _sender(batch: Batch) -> User:
    # The sender as of now, with their verified identity joined: the checks and audit events
    # of a row ask for it several times.
    return User.objects.select_related("person_identity").get(pk=batch.created_by_id)


def _draft(
    batch: Batch,
    row: BatchRow,
    run: _Run,
    org: Organization | None,
    actor: User,
    meta: RequestMeta,
) -> NewDraft:
    """The row's draft in ``org``'s name (the template's, checked), made in the caller's
    transaction: its rows are sent as written, not read back."""
    version = batch.version
    return make_draft(
        version,
        bulk.parties(row.values, version.roles),
        data=bulk.data_of(row.values, version.data_fields),
        title=row.values.get(bulk.TITLE, ""),
        batch=batch,
        org=org,
        sources=run.sources,
        fixed=run.fixed,
        actor=actor,
        meta=meta,
    )


def _send_row(batch: Batch, row: BatchRow, run: _Run, meta: RequestMeta) -> None:
    actor = _sender(batch)
    # The row's audit events (made, its document, sent, notified) are written together.
    with audit.deferred():
        draft = _draft(batch, row, run, _template(batch.version, actor, run).org, actor, meta)
        envelope = new_drafts.send_new_draft(
            draft, platform=run.platform, hint=run.limited, actor=actor, meta=meta
        )
    row.status = BatchRow.Status.SENT
    row.envelope = envelope
    row.save(update_fields=["status", "envelope"])
    Batch.objects.filter(pk=batch.pk).update(sent=F("sent") + 1)


class _OneByOne(Exception):
    """The allowance may not hold a whole group: its rows are sent one by one."""


def _send_group(batch: Batch, rows: list[BatchRow], run: _Run, meta: RequestMeta) -> None:
    """Send ``rows`` in the caller's transaction, as :func:`_send_row` sends each, but with what
    they share done once: the sender read, the template checked, the allowance locked and
    counted, the sender checked, the audit events written (all in one INSERT), the rows'
    outcomes and the batch's counts written. First each row's draft is made and its documents
    certified, without locks (in parallel with another worker's group); a row that fails
    there is rolled back alone and recorded as failed. Then, under the allowance lock, the
    drafts are sent. Any failure from there raises: the caller rolls the group back and sends
    its rows one by one (where each refusal is a row's)."""
    actor = _sender(batch)
    org = _template(batch.version, actor, run).org
    now = timezone.now()
    if not within_allowance(actor, org.pk if org else None, now=now, sends=len(rows)):
        raise _OneByOne
    made: list[tuple[BatchRow, NewDraft, new_drafts.Prepared]] = []
    with audit.deferred():
        for row in rows:
            try:
                with audit.savepoint():
                    draft = _draft(batch, row, run, org, actor, meta)
                    ready = new_drafts.prepare_new_draft(draft, platform=run.platform, actor=actor)
            except Exception as exc:  # noqa: BLE001 - one broken row must not stop the others (logged)
                _failed(batch, row, exc)
                continue
            made.append((row, draft, ready))
        if made:
            new_drafts.send_prepared_drafts(
                [(draft, ready) for _row, draft, ready in made],
                platform=run.platform,
                actor=actor,
                meta=meta,
            )
    for row, draft, _ready in made:
        row.status = BatchRow.Status.SENT
        row.envelope = draft.envelope
    BatchRow.objects.bulk_update(rows, ["status", "envelope", "error"])
    Batch.objects.filter(pk=batch.pk).update(
        sent=F("sent") + len(made), failed=F("failed") + len(rows) - len(made)
    )


def send_batch_rows(batch_id: int, *, meta: RequestMeta, limit: int | None = None) -> int:
    """Send the pending rows of a sending batch (at most ``limit``); returns how many were
    handled. Each group of rows commits on its own; a failure is written on the row."""
    batch = (
        Batch.objects.select_related("version__template", "created_by")
        .prefetch_related("version__documents__blob")  # read once for all the rows
        .get(pk=batch_id)
    )
    if batch.status != Batch.Status.SENDING:
        return 0
    left = batch.valid - batch.sent - batch.failed
    if limit is not None:
        left = min(left, limit)
    with ExitStack() as stack:
        if batch.version.data_fields and left >= MANY_FILLS:
            # Every row's values are written in with a font subset of their characters.
            try:
                stack.enter_context(cjkfont.subsetting_many())
            except ConfigurationError:  # only faster: each row reports what it cannot do
                log.exception("batch %s: the font is not prepared for subsetting", batch.number)
        handled = _send_rows(batch, meta, limit)
    if not BatchRow.objects.filter(batch=batch, status=BatchRow.Status.PENDING).exists():
        Batch.objects.filter(pk=batch.pk, status=Batch.Status.SENDING).update(
            status=Batch.Status.DONE, finished_at=timezone.now()
        )
    return handled


def _send_rows(batch: Batch, meta: RequestMeta, limit: int | None) -> int:
    run: _Run | None = None
    handled = 0
    while limit is None or handled < limit:
        size = GROUP if limit is None else min(GROUP, limit - handled)
        with transaction.atomic():
            rows = list(
                BatchRow.objects.select_for_update(skip_locked=True)
                .filter(batch=batch, status=BatchRow.Status.PENDING)
                .order_by("row_number")[:size]
            )
            if not rows:
                break
            if run is None:
                try:
                    run = _start_run(batch.version)
                except UserError:
                    pass  # each row fails with the reason, one by one
            if not _sent_as_group(batch, rows, run, meta):
                for row in rows:
                    run = _send_one(batch, row, run, meta)
        handled += len(rows)
    return handled


def _sent_as_group(batch: Batch, rows: list[BatchRow], run: _Run | None, meta: RequestMeta) -> bool:
    """Whether ``rows`` were sent by :func:`_send_group` (else nothing of it is left)."""
    if run is None or run.limited or len(rows) < 2:
        return False
    try:
        with transaction.atomic():
            _send_group(batch, rows, run, meta)
    except _OneByOne:
        return False
    except UserError as exc:  # a refusal under the lock: the rows say whose it is
        log.info("batch %s: rows sent one by one (%s)", batch.number, exc)
        return False
    except Exception:
        log.exception("batch %s: rows sent one by one", batch.number)
        return False
    return True


def _send_one(batch: Batch, row: BatchRow, run: _Run | None, meta: RequestMeta) -> _Run | None:
    """Send one row in a savepoint of its own; a failure is written on the row."""
    try:
        with transaction.atomic():
            if run is None:
                run = _start_run(batch.version)
            _send_row(batch, row, run, meta)
            run.limited = False
    except Exception as exc:  # noqa: BLE001 - one broken row must not stop the batch (logged)
        if run is not None and isinstance(exc, UserError):
            run.limited = isinstance(exc, SendLimitReached)
        _fail(batch, row, exc)
    return run


def _failed(batch: Batch, row: BatchRow, exc: Exception) -> None:
    """Mark ``row`` failed (not saved): with the refusal's message, or for an unexpected error
    (logged, with its traceback: call from the ``except`` block) its kind only."""
    if isinstance(exc, UserError):
        reason = str(exc)
    else:
        log.exception("batch %s row %s failed", batch.number, row.row_number)
        reason = _("发起失败：%(reason)s") % {"reason": type(exc).__name__}
    row.status = BatchRow.Status.FAILED
    row.error = reason[:300]


def _fail(batch: Batch, row: BatchRow, exc: Exception) -> None:
    _failed(batch, row, exc)
    row.save(update_fields=["status", "error"])
    Batch.objects.filter(pk=batch.pk).update(failed=F("failed") + 1)


def result_rows(batch: Batch) -> list[dict[str, Any]]:
    """Each row's outcome for the result page and its XLSX."""
    rows = BatchRow.objects.filter(batch=batch).select_related("envelope").order_by("row_number")
    return [
        {
            "row": r.row_number,
            "status": r.get_status_display(),
            "number": r.envelope.number if r.envelope else "",
            "detail": r.error or "；".join(r.problems),
            "title": r.values.get(bulk.TITLE, ""),
        }
        for r in rows
    ]


def batch_envelopes(batch: Batch) -> QuerySet[Envelope]:
    """The envelopes the batch sent."""
    return Envelope.objects.filter(template_use__batch=batch).exclude(status=Envelope.Status.DRAFT)


def batch_progress(batch: Batch) -> dict[str, int]:
    """How the batch's envelopes stand: counts by status (签署中, 已完成, 已拒签 …)."""
    return dict(
        batch_envelopes(batch).values_list("status").annotate(n=Count("id")).order_by("status")
    )


def do_remind_batch(batch: Batch, *, actor: User, meta: RequestMeta) -> tuple[int, int]:
    """催签 every envelope of the batch still in progress (each on its own; one reminded an
    hour ago is skipped). Returns (envelopes reminded, envelopes skipped)."""
    if batch.created_by_id != actor.pk:
        raise TemplateError(_("只能催签自己发起的批次。"))
    reminded = skipped = 0
    active = batch_envelopes(batch).filter(status=Envelope.Status.IN_PROGRESS).order_by("id")
    for envelope in active.iterator():
        try:
            lifecycle.do_remind(envelope, actor=actor, meta=meta)
        except UserError:
            skipped += 1
        else:
            reminded += 1
    return reminded, skipped
