"""批量签署: sign the ticked tasks of 待我签署 with one confirmation.

What is applied without asking: for a person, the default saved signature on every signature
field and today's date on every date field; for an organisation, the seal the user chose for
that organisation (one per organisation) on every seal and cross-page seal field. Tasks that
need more — text to fill in, placing the fields oneself (指定位置签署), an approval, a seal the
user cannot use, a real-name problem — are listed as 需单独签署 and left out.

The user confirms once: the signing PIN, or — for a person who never had a PIN — one SMS code
bound to every task and the document hashes shown
(:func:`qianshu.envelopes.confirmations.batch_binding`); tasks whose envelope does not allow SMS
codes then need a PIN and are left out. Then each
task is signed by :func:`qianshu.envelopes.actions.turns.do_sign` in its own transaction, so one
failure does not undo the others; each task has its own idempotency key, made when the batch
page was shown, so a resubmitted page signs every task once. A large batch on PostgreSQL is
spread over ``QIANSHU_BATCH_PROCESSES`` forked processes (one per core by default).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from qianshu.accounts.models import HandwrittenSignature, User
from qianshu.core.sql import id_in
from qianshu.core.statements import Statement
from qianshu.envelopes import confirmations, turns
from qianshu.envelopes.access import Viewer, access_batch_items, visible_sent_by_uuid
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import Document, Envelope, Field, Recipient
from qianshu.envelopes.queries import tab_queryset
from qianshu.envelopes.routing import batch_initiator_label
from qianshu.envelopes.turns import BatchItem, PostedTask
from qianshu.orgs.models import Organization, Seal

log = logging.getLogger(__name__)

MAX_BATCH = 300  # tasks signed in one confirmation (a department head's evaluation forms)
MAX_ITEMS = 500  # tasks one call of do_batch_sign accepts (scripts, benchmarks)
Kind = Field.Kind
Role = Recipient.Role
_KEY = re.compile(r"\A[0-9a-f]{32}\Z")
_SHA = re.compile(r"\A[0-9a-f]{64}\Z")


def new_key() -> str:
    """A per-task idempotency key for the batch form."""
    return secrets.token_hex(16)


def valid_key(key: str) -> bool:
    return bool(_KEY.match(key or ""))


def encode_seen(seen: Mapping[int, str]) -> str:
    return ",".join(f"{doc}:{sha}" for doc, sha in sorted(seen.items()))


def decode_seen(text: str) -> dict[int, str] | None:
    """``"12:<sha256>,13:<sha256>"`` back to a map, or None when malformed."""
    seen: dict[int, str] = {}
    for part in (text or "").split(","):
        doc, _sep, sha = part.partition(":")
        if not doc.isdigit() or not _SHA.match(sha) or len(seen) >= 20:
            return None
        seen[int(doc)] = sha
    return seen or None


class TaskField(NamedTuple):
    """A field of a task's step, as the batch page judges it."""

    kind: str
    value: str


@dataclass
class BatchTask:
    """A ticked task on the batch page: ready to sign, or why it needs single signing."""

    envelope: Envelope
    initiator: str
    recipient: Recipient | None = None
    fields: list[TaskField] = field(default_factory=list)
    documents: dict[int, str] = field(default_factory=dict)  # id: current revision's SHA-256
    seals: list[Seal] = field(default_factory=list)  # usable seals (organisation tasks)
    problem: str = ""
    key: str = ""
    seen: dict[int, str] = field(default_factory=dict)
    link: str = ""  # 单独签署 / 查看 (set by the view)

    @property
    def ready(self) -> bool:
        return self.recipient is not None and not self.problem

    @property
    def is_seal(self) -> bool:
        return self.recipient is not None and self.recipient.role == Role.SEAL

    @property
    def org(self) -> Organization | None:
        return self.seals[0].org if self.seals else None

    @property
    def seen_text(self) -> str:
        return encode_seen(self.seen)


def task_lines(tasks: Sequence[BatchTask]) -> list[dict[str, object]]:
    """What the batch page shows (and, of a task to sign, posts) of each task, as plain values
    (made into HTML by :mod:`qianshu.envelopes.views.batch_lines`), with what will be applied
    as (kind label, count) — 签名 ×2, 签署日期 ×1 … Each message is translated once for the
    page, not once a task (300 tasks)."""
    initiator, sealed = _("发起方: %(name)s"), _("以“%(org)s”盖章")
    labels = {kind: str(label) for kind, label in Kind.choices}
    files: dict[int, str] = {}
    lines = []
    for task in tasks:
        envelope, org, n = task.envelope, task.org, len(task.documents)
        if n not in files:
            files[n] = ngettext("%(n)s 份文件", "%(n)s 份文件", n) % {"n": n}
        counts: dict[str, int] = defaultdict(int)
        for f in task.fields:
            counts[f.kind] += 1
        lines.append(
            {
                "uuid": str(envelope.uuid),
                "title": envelope.title,
                "number": envelope.number,
                "initiator": initiator % {"name": task.initiator},
                "documents": files[n],
                "seal": sealed % {"org": org.name} if task.is_seal and org is not None else "",
                "applied": [(labels[kind], count) for kind, count in counts.items()],
                "task": f"{envelope.uuid}:{task.recipient.pk if task.recipient else ''}",
                "key": task.key,
                "seen": task.seen_text,
                "problem": task.problem,
                "link": task.link,
                "single": task.recipient is not None and envelope.is_active(),
            }
        )
    return lines


@dataclass
class SealChoice:
    """The seal to apply for one organisation's tasks (选择印章)."""

    org: Organization
    seals: list[Seal]
    default: Seal
    tasks: int


@dataclass
class BatchPlan:
    tasks: list[BatchTask]
    signature: HandwrittenSignature | None
    date_text: str
    by_code: bool  # the actor confirms by SMS code (confirmations.needs_code), as planned

    @property
    def ready(self) -> list[BatchTask]:
        return [t for t in self.tasks if t.ready]

    @property
    def skipped(self) -> list[BatchTask]:
        return [t for t in self.tasks if not t.ready]

    @property
    def has_person_tasks(self) -> bool:
        return any(not t.is_seal for t in self.ready)

    def seal_choices(self) -> list[SealChoice]:
        groups: dict[int, list[BatchTask]] = defaultdict(list)
        for task in self.ready:
            if task.is_seal:
                groups[task.seals[0].org_id].append(task)
        choices = []
        for tasks in groups.values():
            seals: dict[int, Seal] = {}
            usable: dict[int, int] = defaultdict(int)
            for task in tasks:
                for seal in task.seals:
                    seals.setdefault(seal.pk, seal)
                    usable[seal.pk] += 1
            ordered = sorted(seals.values(), key=lambda s: (-usable[s.pk], s.created_at, s.pk))
            choices.append(SealChoice(ordered[0].org, ordered, ordered[0], len(tasks)))
        return choices


def _problem(
    task: BatchTask, actor: User, signature: HandwrittenSignature | None, *, by_code: bool
) -> str:
    envelope, recipient = task.envelope, task.recipient
    if not envelope.is_active():
        return _("该任务%(status)s，不能再签署。") % {"status": envelope.get_status_display()}
    if recipient is None:
        return _("现在不是您的签署环节，或您已处理过该任务。")
    if envelope.kind == Envelope.Kind.MANAGED:
        return _("该文件需在对应的业务页面办理（如就业签约），不能批量签署。")
    if recipient.role == Role.APPROVE:
        return _("审批任务需要打开文件后单独处理。")
    if not task.fields:
        return _("该任务需要您在文件上自行指定签署位置，请单独签署。")
    if any(f.kind == Kind.TEXT and not f.value for f in task.fields):
        return _("该任务需要填写内容，请单独签署。")
    if recipient.role == Role.SEAL and not task.seals:
        return _("您没有可用于该任务的印章，请联系组织管理员授权。")
    if signature is None and any(f.kind == Kind.SIGNATURE for f in task.fields):
        return _("您还没有保存手写签名，请先在“个人签章”中添加签名，或单独签署。")
    if by_code and not envelope.allow_sms_signing:
        return _("发起方要求使用签署密码签署该任务，请先设置签署密码。")
    try:
        turns.check_signer(recipient, actor)
    except EnvelopeError as exc:
        return str(exc)
    return ""


# The columns the batch page reads of each task's rows (a page of 300 tasks reads some 1,200
# rows; the rest — JSON page boxes, timestamps — cost a third of its time to decode), and of
# its fields and documents only values, not model instances. The rows are read by arrays of
# ids (``id_in``): 300 placeholders each cost the driver 2 ms. test_page_queries checks that
# no other column is read afterwards.
_RECIPIENT_COLUMNS = (
    "envelope_id",
    "routing_order",
    "role",
    "name",
    "phone",
    "status",
    "user_id",
    "org_id",
    "required_seal_kind",
)


# The page's reads of the tasks' fields and documents and of the user's signature, built once
# (core/statements.py).
_FIELDS: Statement[Any] = Statement(
    lambda ids: (
        Field.objects.filter(id_in(ids.as_ids(), "recipient_id"))
        .order_by("document_id", "page", "id")
        .values_list("recipient_id", "kind", "value")
    ),
    arity=1,
)
_DOCUMENTS: Statement[Any] = Statement(
    lambda ids: (
        Document.objects.filter(id_in(ids.as_ids(), "envelope_id"))
        .order_by("position", "id")
        .values_list("envelope_id", "pk", "current_id")
    ),
    arity=1,
)
_SIGNATURE: Statement[HandwrittenSignature] = Statement(
    lambda user: HandwrittenSignature.objects.filter(user_id=user.as_int()).order_by(
        "-is_default", "-created_at"
    )[:1],
    arity=1,
)


def plan_batch(
    actor: User,
    envelope_uuids: Sequence[str],
    posted: Mapping[str, PostedTask] | None = None,
    *,
    viewer: Viewer | None = None,
    shown: Mapping[str, Envelope] | None = None,
) -> BatchPlan:
    """The batch page for the ticked tasks (in the order ticked; tasks the actor cannot open
    are left out). ``posted``: the tasks of a batch form sent back, whose keys and document
    hashes are kept so that a resubmission stays idempotent and an SMS code stays valid.
    ``viewer``: the actor's, when the caller has it already. ``shown``: the envelopes by
    uuid when the caller read them from the viewer's own 待我签署 (全部批量签署), by
    :func:`~qianshu.envelopes.access.batch_listed`; otherwise they are looked up and checked
    here."""
    posted = posted or {}
    viewer = viewer or Viewer.of(actor)
    found = shown if shown is not None else visible_sent_by_uuid(viewer, envelope_uuids)
    envelopes = [found[u] for u in envelope_uuids if u in found]
    ids = [e.pk for e in envelopes]
    recipients: dict[int, Recipient] = {}
    for row in (
        Recipient.objects.filter(
            # The envelope's status each row carries (kept by the database): not joined to
            # the envelopes for it (1 ms of 300 tasks); signing checks it again under the lock.
            viewer.turn_q(),
            id_in(ids, "envelope_id"),
            envelope_status=Envelope.Status.IN_PROGRESS,
        )
        .only(*_RECIPIENT_COLUMNS)
        .order_by("routing_order", "id")
    ):
        recipients.setdefault(row.envelope_id, row)
    fields: dict[int, list[TaskField]] = defaultdict(list)
    for recipient_id, kind, value in _FIELDS.rows([r.pk for r in recipients.values()]):
        fields[recipient_id].append(TaskField(kind, value))
    documents: dict[int, dict[int, str]] = defaultdict(dict)
    for envelope_id, document_id, current in _DOCUMENTS.rows(ids):
        documents[envelope_id][document_id] = current
    signature = next(iter(_SIGNATURE.objects(actor.pk)), None)
    by_code = confirmations.needs_code(actor)
    tasks = []
    for envelope in envelopes:
        recipient = recipients.get(envelope.pk)
        if recipient is not None:
            recipient.envelope = envelope
        task = BatchTask(
            envelope=envelope,
            initiator=batch_initiator_label(envelope),
            recipient=recipient,
            fields=fields[recipient.pk] if recipient else [],
            documents=documents[envelope.pk],
            seals=viewer.usable_seals(recipient)
            if recipient and recipient.role == Role.SEAL
            else [],
        )
        task.problem = _problem(task, actor, signature, by_code=by_code)
        earlier = posted.get(str(envelope.uuid))
        if earlier is not None and recipient is not None and earlier.recipient_id == recipient.pk:
            task.key, task.seen = earlier.key, dict(earlier.seen)
        else:
            task.key = new_key()
            task.seen = dict(task.documents)
        tasks.append(task)
    return BatchPlan(tasks, signature, turns.signing_date_text(), by_code)


# --- signing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    item: BatchItem
    ok: bool
    message: str = ""
    repeated: bool = False  # signed by an earlier submission of the same batch

    @property
    def envelope(self) -> Envelope:
        return self.item.recipient.envelope


def pending_items(actor: User) -> list[BatchItem]:
    """Every task of the actor's 待我签署 that batch signing can do now, newest first, with
    fresh keys and the current document hashes; organisation tasks get the default seal of
    their organisation. For scripts and benchmarks: the batch page posts its own items."""
    viewer = Viewer.of(actor)
    todo = tab_queryset(viewer, "todo").order_by("-sent_at", "-id")
    plan = plan_batch(actor, [str(u) for u in todo.values_list("uuid", flat=True)], viewer=viewer)
    choice = {str(c.org.uuid): str(c.default.uuid) for c in plan.seal_choices()}
    posted = [
        PostedTask(str(t.envelope.uuid), t.recipient.pk, t.key, t.seen)
        for t in plan.ready
        if t.recipient is not None
    ]
    return access_batch_items(actor, posted, choice)


def batch_binding_of(items: Sequence[BatchItem]) -> str:
    """What the batch's SMS code is bound to: every task and the document hashes shown."""
    return confirmations.batch_binding([(item.recipient.envelope, item.seen) for item in items])
