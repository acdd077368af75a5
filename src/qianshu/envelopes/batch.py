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
task is signed by :func:`qianshu.envelopes.turns.do_sign` in its own transaction, so one
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

from django.http import HttpRequest
from django.utils.translation import gettext as _

from qianshu.accounts.models import HandwrittenSignature, User
from qianshu.envelopes import confirmations, turns
from qianshu.envelopes.access import seal_matches, visible_envelopes
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.lists import Viewer, tab_queryset
from qianshu.envelopes.models import Document, Envelope, Field, Recipient
from qianshu.envelopes.routing import initiator_label
from qianshu.orgs.models import Organization, Seal

log = logging.getLogger(__name__)

MAX_BATCH = 50  # tasks ticked at once on the page
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


@dataclass(frozen=True)
class PostedTask:
    """One task as the batch form sent it back."""

    envelope_uuid: str
    recipient_id: int
    key: str
    seen: Mapping[int, str]


@dataclass
class BatchTask:
    """A ticked task on the batch page: ready to sign, or why it needs single signing."""

    envelope: Envelope
    initiator: str
    recipient: Recipient | None = None
    fields: list[Field] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    seals: list[Seal] = field(default_factory=list)  # usable seals (organisation tasks)
    problem: str = ""
    key: str = ""
    seen: dict[int, str] = field(default_factory=dict)

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

    def applied(self) -> list[tuple[str, int]]:
        """What will be applied, as (kind label, count) — 签名 ×2, 签署日期 ×1 …"""
        counts: dict[str, int] = defaultdict(int)
        for f in self.fields:
            counts[f.kind] += 1
        return [(str(Kind(kind).label), n) for kind, n in counts.items()]


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


def _usable(viewer: Viewer, recipient: Recipient) -> list[Seal]:
    return [seal for seal in viewer.seals if seal_matches(recipient, seal)]


def _may_act(viewer: Viewer, recipient: Recipient) -> bool:
    """:func:`qianshu.envelopes.access.can_act_as` for signing, without a query per task."""
    if recipient.role == Role.SEAL:
        return bool(_usable(viewer, recipient))
    if recipient.role != Role.SIGN:
        return False
    if recipient.user_id is not None:
        return recipient.user_id == viewer.user.pk
    return bool(recipient.phone) and recipient.phone == viewer.user.phone


def _problem(
    task: BatchTask, actor: User, signature: HandwrittenSignature | None, *, by_code: bool
) -> str:
    envelope, recipient = task.envelope, task.recipient
    if not envelope.is_active():
        return _("该任务%(status)s，不能再签署。") % {"status": envelope.get_status_display()}
    if recipient is None:
        return _("现在不是您的签署环节，或您已处理过该任务。")
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


def plan_batch(
    actor: User,
    envelope_uuids: Sequence[str],
    posted: Mapping[str, PostedTask] | None = None,
) -> BatchPlan:
    """The batch page for the ticked tasks (in the order ticked; tasks the actor cannot open
    are left out). ``posted``: the tasks of a batch form sent back, whose keys and document
    hashes are kept so that a resubmission stays idempotent and an SMS code stays valid."""
    posted = posted or {}
    viewer = Viewer.of(actor)
    found = {
        str(e.uuid): e
        for e in visible_envelopes(actor)
        .exclude(status=Envelope.Status.DRAFT)
        .filter(uuid__in=list(envelope_uuids))
        .select_related("initiator__person_identity", "initiator_org")
    }
    envelopes = [found[u] for u in envelope_uuids if u in found]
    ids = [e.pk for e in envelopes]
    recipients: dict[int, Recipient] = {}
    for row in Recipient.objects.filter(
        viewer.turn_q(), envelope_id__in=ids, envelope__status=Envelope.Status.IN_PROGRESS
    ).order_by("routing_order", "id"):
        recipients.setdefault(row.envelope_id, row)
    fields: dict[int, list[Field]] = defaultdict(list)
    for f in Field.objects.filter(recipient__in=list(recipients.values())).order_by(
        "document_id", "page", "id"
    ):
        fields[f.recipient_id].append(f)
    documents: dict[int, list[Document]] = defaultdict(list)
    for document in Document.objects.filter(envelope_id__in=ids).order_by("position", "id"):
        documents[document.envelope_id].append(document)
    signature = (
        HandwrittenSignature.objects.filter(user=actor)
        .order_by("-is_default", "-created_at")
        .first()
    )
    by_code = confirmations.needs_code(actor)
    tasks = []
    for envelope in envelopes:
        recipient = recipients.get(envelope.pk)
        if recipient is not None:
            recipient.envelope = envelope
        task = BatchTask(
            envelope=envelope,
            initiator=initiator_label(envelope),
            recipient=recipient,
            fields=fields[recipient.pk] if recipient else [],
            documents=documents[envelope.pk],
            seals=_usable(viewer, recipient) if recipient and recipient.role == Role.SEAL else [],
        )
        task.problem = _problem(task, actor, signature, by_code=by_code)
        earlier = posted.get(str(envelope.uuid))
        if earlier is not None and recipient is not None and earlier.recipient_id == recipient.pk:
            task.key, task.seen = earlier.key, dict(earlier.seen)
        else:
            task.key = new_key()
            task.seen = {d.pk: d.current_id for d in task.documents}
        tasks.append(task)
    return BatchPlan(tasks, signature, turns.signing_date_text())


# --- signing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchItem:
    """One task to sign: the recipient (with its envelope loaded), the key and hashes of the
    batch form, the seal chosen for its organisation, and its fields."""

    recipient: Recipient
    key: str
    seen: Mapping[int, str]
    seal_uuid: str | None = None
    fields: tuple[turns.StagedField, ...] = ()


@dataclass(frozen=True)
class BatchResult:
    item: BatchItem
    ok: bool
    message: str = ""
    repeated: bool = False  # signed by an earlier submission of the same batch

    @property
    def envelope(self) -> Envelope:
        return self.item.recipient.envelope


def _staged(fields: Sequence[Field]) -> tuple[turns.StagedField, ...]:
    # A text field the initiator filled in keeps its value (an empty staged value would be
    # "not filled in").
    return tuple(turns.StagedField(field_id=f.pk, value=f.value) for f in fields)


def access_batch_items(
    actor: User,
    posted: Sequence[PostedTask],
    seal_choice: Mapping[str, str],
) -> list[BatchItem]:
    """The posted tasks the actor may sign as (whose turn it is is checked when signing, under
    the lock); foreign ones are dropped. ``seal_choice``: organisation uuid → seal uuid."""
    viewer = Viewer.of(actor)
    wanted = {(p.envelope_uuid, p.recipient_id): p for p in posted}
    rows = (
        Recipient.objects.filter(
            pk__in=[p.recipient_id for p in posted],
            envelope__in=visible_envelopes(actor).exclude(status=Envelope.Status.DRAFT),
        )
        .select_related("envelope", "org")
        .order_by()
    )
    found = {(str(r.envelope.uuid), r.pk): r for r in rows}
    recipients = [found[k] for k in wanted if k in found and _may_act(viewer, found[k])]
    fields: dict[int, list[Field]] = defaultdict(list)
    for f in Field.objects.filter(recipient__in=recipients).order_by("document_id", "page", "id"):
        fields[f.recipient_id].append(f)
    items = []
    for recipient in recipients:
        p = wanted[(str(recipient.envelope.uuid), recipient.pk)]
        seal_uuid = None
        if recipient.role == Role.SEAL:
            usable = _usable(viewer, recipient)
            chosen = seal_choice.get(str(usable[0].org.uuid), "")
            if not chosen and len(usable) == 1:
                chosen = str(usable[0].uuid)
            seal_uuid = chosen or None
        items.append(
            BatchItem(
                recipient=recipient,
                key=p.key,
                seen=dict(p.seen),
                seal_uuid=seal_uuid,
                fields=_staged(fields[recipient.pk]),
            )
        )
    return items


def pending_items(actor: User) -> list[BatchItem]:
    """Every task of the actor's 待我签署 that batch signing can do now, newest first, with
    fresh keys and the current document hashes; organisation tasks get the default seal of
    their organisation. For scripts and benchmarks: the batch page posts its own items."""
    todo = tab_queryset(Viewer.of(actor), "todo").order_by("-sent_at", "-id")
    plan = plan_batch(actor, [str(u) for u in todo.values_list("uuid", flat=True)])
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


def do_send_batch_code(
    items: Sequence[BatchItem], *, actor: User, request: HttpRequest | None = None
) -> None:
    """获取验证码 of a batch: one SMS code for all its tasks (``codes.CodeError`` when
    rate-limited)."""
    if not items:
        raise EnvelopeError(_("没有可以批量签署的任务。"))
    confirmations.do_send_signing_code(
        batch_binding_of(items), envelopes=_envelopes(items), actor=actor, request=request
    )


def _envelopes(items: Sequence[BatchItem]) -> list[Envelope]:
    return [item.recipient.envelope for item in items]


def _check_items(items: Sequence[BatchItem]) -> None:
    if not items:
        raise EnvelopeError(_("没有可以批量签署的任务。"))
    if len(items) > MAX_ITEMS:
        raise EnvelopeError(_("一次最多批量签署 %(n)d 个任务。") % {"n": MAX_ITEMS})
    keys = [item.key for item in items]
    if len(set(keys)) != len(keys) or not all(_KEY.match(k) for k in keys):
        raise EnvelopeError(_("提交无效，请刷新页面后重试。"))
    recipients = [item.recipient.pk for item in items]
    if len(set(recipients)) != len(recipients):
        raise EnvelopeError(_("同一任务提交了两次，请刷新页面后重试。"))


def do_batch_sign(
    items: Sequence[BatchItem],
    *,
    pin: str | None = None,
    code: str | None = None,
    actor: User,
    request: HttpRequest | None = None,
) -> list[BatchResult]:
    """批量签署: check the PIN (or the batch's SMS code) once — a wrong one raises
    :class:`~qianshu.envelopes.errors.ConfirmationError` before anything is signed — then sign
    every task in its own transaction. Returns one result per item, in order: signed, signed
    before by the same key (a resubmission), or the reason it failed."""
    _check_items(items)
    confirmation = confirmations.confirm_signing(
        pin=pin,
        code=code,
        binding=batch_binding_of(items),
        envelopes=_envelopes(items),
        actor=actor,
        request=request,
    )
    processes = _processes(len(items))
    if processes > 1:
        return _sign_in_processes(items, confirmation, actor, request, processes)
    return [_sign_item(item, confirmation, actor, request) for item in items]


def _sign_item(
    item: BatchItem,
    confirmation: confirmations.Confirmation,
    actor: User,
    request: HttpRequest | None,
) -> BatchResult:
    req = turns.SignRequest(
        key=item.key, seen=item.seen, fields=item.fields, seal_uuid=item.seal_uuid
    )
    try:
        outcome = turns.do_sign(
            item.recipient, req, confirmation=confirmation, actor=actor, request=request
        )
    except EnvelopeError as exc:
        return BatchResult(item, ok=False, message=str(exc))
    except Exception:  # one broken task must not stop the others
        log.exception("batch signing of recipient %s failed", item.recipient.pk)
        return BatchResult(item, ok=False, message=_("签署失败，请稍后重试。"))
    return BatchResult(item, ok=True, repeated=outcome.repeated)


# --- several processes ------------------------------------------------------------------------
# Signing is CPU-bound Python, so one process uses one core. A large batch is split over
# forked children of this process: the unlocked key (or the permission to make event keys)
# stays in memory and is never serialised or handed to the task queue's workers, which is what
# sole control requires. Each child opens its own database connection and blob store client.

_FORKED: tuple[Sequence[BatchItem], confirmations.Confirmation, User, HttpRequest | None] | None = (
    None
)
MIN_ITEMS_PER_PROCESS = 8


def _processes(count: int) -> int:
    from django.conf import settings
    from django.db import connection

    wanted = int(getattr(settings, "QIANSHU_BATCH_PROCESSES", 1) or 1)
    if wanted < 2 or count < 2 * MIN_ITEMS_PER_PROCESS:
        return 1
    # SQLite serialises writers (nothing to gain), and an open transaction cannot be shared.
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return max(1, min(wanted, count // MIN_ITEMS_PER_PROCESS))


def _child_started() -> None:
    from django.db import connections

    from qianshu.storage.blobs import reset_blob_store_cache

    for conn in connections.all(initialized_only=True):
        # The parent closed its connections before forking; never reuse an inherited socket.
        conn.connection = None
    reset_blob_store_cache()


def _sign_forked(index: int) -> tuple[int, bool, str, bool]:
    assert _FORKED is not None
    items, confirmation, actor, request = _FORKED
    result = _sign_item(items[index], confirmation, actor, request)
    return index, result.ok, result.message, result.repeated


def _sign_in_processes(
    items: Sequence[BatchItem],
    confirmation: confirmations.Confirmation,
    actor: User,
    request: HttpRequest | None,
    processes: int,
) -> list[BatchResult]:
    import multiprocessing

    from django.db import connections

    global _FORKED
    connections.close_all()
    _FORKED = (items, confirmation, actor, request)
    done: dict[int, BatchResult] = {}
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(processes, initializer=_child_started) as pool:
            chunk = max(1, len(items) // (processes * 4))
            for index, ok, message, repeated in pool.imap_unordered(
                _sign_forked, range(len(items)), chunksize=chunk
            ):
                done[index] = BatchResult(items[index], ok, message, repeated)
    except Exception:  # a child died: the tasks it did not report are failures
        log.exception("batch signing processes failed")
    finally:
        _FORKED = None
    failed = _("签署失败，请稍后重试。")
    return [
        done.get(i) or BatchResult(item, ok=False, message=failed) for i, item in enumerate(items)
    ]
