"""批量签署: sign the ticked tasks with one confirmation (what is signed and how it is
confirmed: :mod:`qianshu.envelopes.batch`).

Each task is signed by :func:`qianshu.envelopes.actions.turns.do_sign` in its own transaction,
so one failure does not undo the others (so :func:`do_batch_sign` has no transaction of its
own); a large batch on PostgreSQL is spread over forked processes. What the batch prepares once
for all its tasks (the platform's keys, the signature image, which tasks were submitted
before) is handed to each step (:class:`~qianshu.envelopes.actions.turns.Prepared`). The
"your turn" and progress messages of the batch go out once it is done, one per person
(:func:`qianshu.envelopes.routing.send_collected`).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.envelopes import confirmations, routing, turns
from qianshu.envelopes.actions import confirmations as confirmation_actions
from qianshu.envelopes.actions.turns import Prepared, do_sign, prepare_steps
from qianshu.envelopes.batch import MAX_ITEMS, BatchResult, batch_binding_of, valid_key
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import Envelope
from qianshu.envelopes.turns import BatchItem

log = logging.getLogger(__name__)
T = TypeVar("T")


def do_send_batch_code(items: Sequence[BatchItem], *, actor: User, meta: RequestMeta) -> None:
    """获取验证码 of a batch: one SMS code for all its tasks (``codes.CodeError`` when
    rate-limited)."""
    if not items:
        raise EnvelopeError(_("没有可以批量签署的任务。"))
    confirmation_actions.do_send_signing_code(
        batch_binding_of(items), envelopes=_envelopes(items), actor=actor, meta=meta
    )


def _envelopes(items: Sequence[BatchItem]) -> list[Envelope]:
    return [item.recipient.envelope for item in items]


def _check_items(items: Sequence[BatchItem]) -> None:
    if not items:
        raise EnvelopeError(_("没有可以批量签署的任务。"))
    if len(items) > MAX_ITEMS:
        raise EnvelopeError(_("一次最多批量签署 %(n)d 个任务。") % {"n": MAX_ITEMS})
    keys = [item.key for item in items]
    if len(set(keys)) != len(keys) or not all(valid_key(k) for k in keys):
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
    meta: RequestMeta,
) -> list[BatchResult]:
    """批量签署: check the PIN (or the batch's SMS code) once — a wrong one raises
    :class:`~qianshu.envelopes.errors.ConfirmationError` before anything is signed — then sign
    every task in its own transaction. Returns one result per item, in order: signed, signed
    before by the same key (a resubmission), or the reason it failed."""
    _check_items(items)
    confirmation = confirmation_actions.confirm_signing(
        pin=pin,
        code=code,
        binding=batch_binding_of(items),
        envelopes=_envelopes(items),
        actor=actor,
        meta=meta,
    )
    prepared = prepare_steps([(item.recipient, item.key) for item in items], actor)

    def sign(index: int) -> tuple[tuple[bool, str, bool], list[routing.Notice]]:
        result, sent = _sign_item(items[index], confirmation, prepared, actor, meta)
        return (result.ok, result.message, result.repeated), sent

    lost = (False, _("签署失败，请稍后重试。"), False)
    outcomes = run_steps(len(items), sign, lost)
    return [BatchResult(item, *outcome) for item, outcome in zip(items, outcomes, strict=True)]


def _sign_item(
    item: BatchItem,
    confirmation: confirmations.Confirmation,
    prepared: Prepared,
    actor: User,
    meta: RequestMeta,
) -> tuple[BatchResult, list[routing.Notice]]:
    """Sign one task; returns its result and the messages it held back (none if it failed:
    its transaction rolled back, held messages included)."""
    req = turns.SignRequest(
        key=item.key, seen=item.seen, fields=item.fields, seal_uuid=item.seal_uuid
    )
    try:
        with routing.collecting_notices() as notices:
            outcome = do_sign(
                item.recipient,
                req,
                confirmation=confirmation,
                prepared=prepared,
                actor=actor,
                meta=meta,
            )
    except EnvelopeError as exc:
        return BatchResult(item, ok=False, message=str(exc)), []
    except Exception:  # one broken task must not stop the others
        log.exception("batch signing of recipient %s failed", item.recipient.pk)
        return BatchResult(item, ok=False, message=_("签署失败，请稍后重试。")), []
    return BatchResult(item, ok=True, repeated=outcome.repeated), notices


# --- several processes ------------------------------------------------------------------------
# Signing is CPU-bound Python, so one process uses one core. A large batch is split over
# forked children of this process: the unlocked key (or the permission to make event keys, or
# an API key's grant) stays in memory and is never serialised or handed to the task queue's
# workers, which is what sole control requires. Each child opens its own database connection
# and blob store client, and works in the language of the request.

_FORKED: tuple[Callable[[int], Any], str] | None = None
MIN_ITEMS_PER_PROCESS = 8


def processes_for(count: int) -> int:
    """How many processes share ``count`` steps: ``QIANSHU_BATCH_PROCESSES`` at most, at least
    ``MIN_ITEMS_PER_PROCESS`` steps each; one on SQLite or inside a transaction."""
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
    from django.utils import translation

    from qianshu.storage.blobs import reset_blob_store_cache

    # What the child inherits is frozen for the cyclic collector, as in the verification's
    # child (signing/isolation.py): its collections walk only what it makes itself, not the
    # parent's heap (in a process that has served for a while, or the bench's: ~30 % of a
    # batch worker's time), and do not copy that heap into the child by writing to it.
    gc.freeze()
    for conn in connections.all(initialized_only=True):
        # The parent closed its connections before forking; never reuse an inherited socket.
        conn.connection = None
    reset_blob_store_cache()
    assert _FORKED is not None
    # The request's language (the thread that forked the child had it active already).
    translation.activate(_FORKED[1])


# A child that makes no progress for this long (no step reported) is taken to hang and is
# killed: the steps it did not report are lost, as those of a child that died.
STEP_SECONDS = 120.0


def _child_loop(pipe: Connection) -> None:
    """A forked child: runs the chunks of steps the parent sends, reporting each step's result
    as it is done, then asks for more (``None``), until the parent sends ``None``."""
    from django.db import connections

    _child_started()
    assert _FORKED is not None
    work = _FORKED[0]
    try:
        while (chunk := pipe.recv()) is not None:
            for index in chunk:
                pipe.send((index, work(index)))
            pipe.send(None)
    except EOFError:  # the parent is gone
        pass
    finally:
        connections.close_all()


def _spread(count: int, work: Callable[[int], T], processes: int) -> dict[int, T]:
    """``work(i)`` for each ``i`` in ``range(count)``, shared by ``processes`` forked children
    of this process; the results by ``i``, which must pickle. A step that a child did not
    report is missing: the child died, or reported nothing for :data:`STEP_SECONDS` and was
    killed. Chunks go to whichever child is free, so a slow child takes fewer."""
    import multiprocessing
    import time
    from multiprocessing.connection import wait

    from django.conf import settings
    from django.db import connections
    from django.utils import translation

    global _FORKED
    connections.close_all()
    _FORKED = (work, translation.get_language() or settings.LANGUAGE_CODE)
    size = max(1, count // (processes * 4))
    chunks = [range(i, min(i + size, count)) for i in range(0, count, size)]
    done: dict[int, T] = {}
    context = multiprocessing.get_context("fork")
    children: dict[Connection, tuple[BaseProcess, float]] = {}  # pipe -> process, its deadline
    finishing: set[Connection] = set()  # told there is nothing more: their end is no failure
    try:
        for _ in range(min(processes, len(chunks))):
            pipe, child_end = context.Pipe()
            started: BaseProcess = context.Process(
                target=_child_loop, args=(child_end,), daemon=True
            )
            try:
                started.start()
            except OSError:  # no process to be had (memory, process limit): fewer children
                log.exception("a batch process could not be started")
                pipe.close()
                break
            finally:
                child_end.close()
            _send(pipe, chunks.pop(0))
            children[pipe] = (started, time.monotonic() + STEP_SECONDS)
        while children:
            now = time.monotonic()
            for late in [p for p, (_, deadline) in children.items() if deadline <= now]:
                log.error("a batch process reported nothing for %g s: stopped", STEP_SECONDS)
                _stop(late, children.pop(late)[0])
            timeout = max(0.0, min((d for _, d in children.values()), default=now) - now)
            for ready in wait(list(children), timeout=timeout):
                assert isinstance(ready, Connection)
                child = children[ready][0]
                try:
                    message = ready.recv()
                except (EOFError, OSError):
                    if ready not in finishing:
                        log.error("a batch process died (exit code %s)", child.exitcode)
                    del children[ready]
                    _stop(ready, child)
                    continue
                if message is None:  # its chunk is done: the next one, or the end
                    if not chunks:
                        finishing.add(ready)
                    _send(ready, chunks.pop(0) if chunks else None)
                else:
                    index, result = message
                    done[index] = result
                children[ready] = (child, time.monotonic() + STEP_SECONDS)
    finally:
        _FORKED = None
        for pipe, (process, _) in children.items():
            _stop(pipe, process)
    return done


def _send(pipe: Connection, chunk: range | None) -> None:
    try:
        pipe.send(chunk)
    except OSError:  # the child died meanwhile: its end of the pipe comes next
        pass


def _stop(pipe: Connection, process: BaseProcess) -> None:
    if process.is_alive():
        process.kill()
    process.join(5)
    pipe.close()


def run_steps(
    count: int, step: Callable[[int], tuple[T, list[routing.Notice]]], lost: T
) -> list[T]:
    """A batch's steps ``step(0)`` … ``step(count - 1)``, each returning its result and the
    messages it held back: one after the other here, or a large batch on PostgreSQL shared by
    forked processes (:func:`processes_for`). The results in order (``lost`` for a step a
    child did not report: it died or hung); then the held messages go out, one per person for
    the whole batch (:func:`~qianshu.envelopes.routing.send_collected`)."""
    processes = processes_for(count)
    if processes > 1:
        done = _spread(count, step, processes)
    else:
        done = {index: step(index) for index in range(count)}
    results, notices = [], []
    for index in range(count):
        result, sent = done.get(index, (lost, []))
        results.append(result)
        notices += sent
    try:
        routing.send_collected(notices)
    except Exception:  # the held messages are sent one by one when their hold runs out
        log.exception("sending the batch's notifications failed")
    return results
