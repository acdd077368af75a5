"""批量发起, cheaper per row: each row's draft is made and sent from its parts as written
(``make_draft``, then ``prepare_new_draft`` and ``send_prepared_drafts``: nothing read back),
with what every row shares read once per run and what a group of rows shares done once per
group (the allowance lock, the trail's INSERT, the rows' outcomes). The rows cost a bounded
number of SQL statements each, the same however many rows there are; and a row's envelope is
what making the draft from the template and sending it by hand gives — the same audit trail,
whole and valid, the same checks and allowance."""

from __future__ import annotations

import io
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from qianshu.core.meta import TASK
from qianshu.doctemplates import bulk
from qianshu.doctemplates.actions import bulk as bulk_actions
from qianshu.doctemplates.actions.bulk import do_import_batch, do_start_batch, send_batch_rows
from qianshu.doctemplates.actions.templates import do_save_template, do_use_template
from qianshu.doctemplates.models import Batch, BatchRow, Template
from qianshu.doctemplates.snapshots import Party, RoleChoice
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import new_drafts
from qianshu.envelopes.audit import check_chain
from qianshu.envelopes.models import AuditEvent, Envelope, Field
from qianshu.notifications.models import OutboxMessage
from qianshu.notifications.tasks import schedule_deliveries, schedule_delivery
from qianshu.orgs.models import Membership
from qianshu.signing import cjkfont
from qianshu.signing.errors import ConfigurationError
from tests.doctemplates.test_bulk import _sheet
from tests.envelopes.helpers import Builder, field

pytestmark = pytest.mark.django_db

# Measured 19.5 here (inside the test's transaction: without BEGIN and COMMIT, and the outbox's
# delivery task scheduled after the commit), rows sent in one group: the draft's rows, the
# prepared revision, routing, the trail's compare-and-swap; 31.5 when each row was sent in a
# transaction of its own (its claim, the allowance lock, its trail's INSERT, its outcome),
# 66 when each compose step locked and read the draft again.
STATEMENTS_PER_ROW = 20
# What a group does once: its claim, the sender, the template, the allowance counted then
# locked, the sender checked, the rows' outcomes and the batch's counts (19.5 measured).
GROUP_STATEMENTS = 20


@pytest.fixture
def version(people: dict[str, Any]) -> Any:
    """考核表 of the university: 被考核人 (open) signs, 人事处 (fixed: the university) seals;
    the sender fills 姓名 and 工号, written into the page."""
    alice, bob, org = people["alice"], people["bob"], people["org"]
    draft = Builder().draft(alice, [("sign", 1, bob), ("seal", 2, org)], org=org, pages=1)
    document, person = draft.documents.get(), draft.recipients.get(role="sign")
    kept = [
        field(document, f.recipient, f.kind, f.page, (f.x1, f.y1, f.x2, f.y2))
        for f in Field.objects.filter(envelope=draft).select_related("recipient")
    ]
    texts = [
        field(document, person, "text", 0, (72, 700, 272, 724)),
        field(document, person, "text", 0, (300, 700, 420, 724)),
    ]
    compose_actions.do_set_fields(draft, [*kept, *texts], actor=alice)
    name, number = Field.objects.filter(envelope=draft, kind="text").order_by("x1")
    return do_save_template(
        draft,
        name="年度考核表",
        choices=[RoleChoice("被考核人", False), RoleChoice("人事处", True)],
        data_fields={
            name.pk: {"name": "姓名", "type": "text", "required": True},
            number.pk: {"name": "工号", "type": "text", "required": True},
        },
        actor=alice,
        meta=TASK,
    )


def _rows(count: int, start: int = 0) -> list[list[str]]:
    return [
        ["", f"员工{i}", f"1390000{i:04d}", "", f"员工{i}", f"HR-{i:04d}"]
        for i in range(start, start + count)
    ]


def _batch(version: Any, actor: Any, rows: list[list[str]]) -> Batch:
    book = load_workbook(io.BytesIO(bulk.workbook(version.roles, "考核", version.data_fields)))
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    batch = do_import_batch(version, out.getvalue(), "考核.xlsx", actor=actor)
    assert batch.valid == len(rows), [r.problems for r in batch.rows.all()]
    return do_start_batch(batch, actor=actor)


def _statements(batch: Batch, rows: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert send_batch_rows(batch.pk, meta=TASK, limit=rows) == rows
    return len(queries.captured_queries)


def test_each_row_costs_a_bounded_number_of_statements(
    version: Any, people: dict[str, Any]
) -> None:
    batch = _batch(version, people["alice"], _rows(9))
    send_batch_rows(batch.pk, meta=TASK, limit=1)  # what a run reads once is read here
    three = _statements(batch, 3)
    five = _statements(batch, 5)
    per_row = (five - three) / 2
    assert per_row <= STATEMENTS_PER_ROW, per_row
    # Nothing but the rows' own statements grows with the rows of a group.
    assert three <= 3 * STATEMENTS_PER_ROW + GROUP_STATEMENTS, three
    assert BatchRow.objects.filter(batch=batch, status=BatchRow.Status.SENT).count() == 9


def test_a_groups_first_signers_are_told_by_one_delivery_task(
    version: Any, people: dict[str, Any]
) -> None:
    """The SMS of a group's first signers (one per envelope) are scheduled together: one
    delivery task, not one each."""
    batch = _batch(version, people["alice"], _rows(3))
    with TestCase.captureOnCommitCallbacks() as callbacks:
        assert send_batch_rows(batch.pk, meta=TASK) == 3
    deliveries = [
        (c.func, c.args)
        for c in callbacks
        if isinstance(c, partial) and c.func in (schedule_delivery, schedule_deliveries)
    ]
    assert len(deliveries) == 1 and deliveries[0][0] is schedule_deliveries, deliveries
    (ids,) = deliveries[0][1]
    sms = OutboxMessage.objects.filter(pk__in=ids, channel="sms")
    assert sorted(sms.values_list("recipient", flat=True)) == [f"1390000{i:04d}" for i in range(3)]


def _trail(envelope: Envelope) -> list[tuple[object, ...]]:
    """What each event says, without what differs between two envelopes of the same draft
    (its number in the reason, the prepared bytes' hashes, the time)."""
    events = AuditEvent.objects.filter(envelope=envelope).select_related("recipient")
    return [
        (
            e.seq,
            e.action,
            e.actor_id,
            e.actor_name,
            e.recipient.name if e.recipient else "",
            e.document_name,
            e.sha256_after if e.action == "created" else bool(e.sha256_after),
            bool(e.sha256_before),
            e.detail,
            e.ip,
            e.user_agent,
        )
        for e in events.order_by("seq")
    ]


def test_a_row_gives_the_envelope_and_trail_of_a_draft_sent_by_hand(
    version: Any, people: dict[str, Any]
) -> None:
    alice = people["alice"]
    batch = _batch(version, alice, _rows(1, start=7))
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert send_batch_rows(batch.pk, meta=TASK) == 1
    sent = Envelope.objects.get(template_use__batch=batch)
    by_hand = do_use_template(
        version,
        {"r1": Party("员工7", "13900000007")},
        data={"姓名": "员工7", "工号": "HR-0007"},
        actor=alice,
        meta=TASK,
    )
    by_hand = compose_actions.do_send_envelope(by_hand, actor=alice, meta=TASK)
    for envelope in (sent, by_hand):
        envelope.refresh_from_db()
        assert envelope.status == Envelope.Status.IN_PROGRESS
        assert check_chain(envelope) is None
        assert envelope.events.count() == envelope.audit_count
    assert _trail(sent) == _trail(by_hand)
    assert [a for a, *_ in _trail(sent)] == [1, 2, 3, 4, 5]
    # The same parts: documents (certified, with the same text filled in), recipients, fields,
    # the first recipient's turn and its message.
    for envelope in (sent, by_hand):
        document = envelope.documents.get()
        assert (document.revision, document.certified) == (1, True)
    assert sent.documents.get().original_id == by_hand.documents.get().original_id
    assert sent.documents.get().page_boxes == by_hand.documents.get().page_boxes

    def parts(envelope: Envelope) -> tuple[object, ...]:
        recipients = list(
            envelope.recipients.order_by("routing_order").values_list(
                "role", "name", "phone", "org_id", "status"
            )
        )
        fields = list(
            envelope.fields.order_by("id").values_list(
                "recipient__name", "kind", "page", "x1", "y1", "x2", "y2"
            )
        )
        return recipients, fields, envelope.initiator_org_id, envelope.deadline

    assert parts(sent) == parts(by_hand)
    messages = OutboxMessage.objects.filter(recipient="13900000007").order_by("pk")
    assert [m.kind for m in messages] == ["envelope_sign_request"] * 2


def _four_rows_past_an_allowance_of_two(version: Any, people: dict[str, Any]) -> Any:
    """Send a batch of four rows (第0份 … 第3份) with the organisation's allowance at two:
    two are sent, two fail with the allowance's message; returns the failed rows."""
    batch = _batch(
        version, people["alice"], [[f"第{i}份", *row[1:]] for i, row in enumerate(_rows(4))]
    )
    assert send_batch_rows(batch.pk, meta=TASK) == 4
    batch.refresh_from_db()
    assert (batch.sent, batch.failed) == (2, 2)
    failed = BatchRow.objects.filter(batch=batch, status=BatchRow.Status.FAILED)
    assert all("24 小时内最多可发起 2 个签署任务" in row.error for row in failed)
    return failed


def test_rows_past_the_allowance_fail_and_leave_nothing(
    version: Any, people: dict[str, Any], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.QIANSHU_SEND_PER_ORG_DAY = 2
    certified: list[str] = []
    real = compose_actions._prepared_bytes

    def counted(envelope: Envelope, *args: Any) -> bytes:
        certified.append(envelope.title)
        return real(envelope, *args)

    monkeypatch.setattr(compose_actions, "_prepared_bytes", counted)
    failed = _four_rows_past_an_allowance_of_two(version, people)
    # The refused rows' drafts went with their transactions.
    assert Envelope.objects.filter(template_use__version=version).count() == 2
    assert not any(row.envelope_id for row in failed)
    # The third row was certified before the allowance refused it; the fourth, after a
    # refusal, was counted first and certified nothing.
    assert certified == ["第0份", "第1份", "第2份"]


def test_a_group_the_allowance_refuses_under_its_lock_is_sent_one_by_one(
    version: Any, people: dict[str, Any], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count before a group (without a lock) is a hint that another sender's sends can make
    wrong: the allowance's lock then refuses the whole group, which is rolled back, and its
    rows are sent one by one — as many as the allowance holds; the others fail with its
    message and leave nothing."""
    settings.QIANSHU_SEND_PER_ORG_DAY = 2
    monkeypatch.setattr(bulk_actions, "within_allowance", lambda *args, **kwargs: True)
    _four_rows_past_an_allowance_of_two(version, people)
    sent = Envelope.objects.filter(template_use__version=version)
    assert sorted(sent.values_list("title", flat=True)) == ["第0份", "第1份"]
    for envelope in sent:
        assert check_chain(envelope) is None
        assert envelope.events.count() == envelope.audit_count
    # The group's rolled-back drafts left no events behind.
    assert not AuditEvent.objects.filter(envelope__title__in=["第2份", "第3份"]).exists()


@pytest.mark.parametrize("allowance", [3, 10])
def test_a_personal_template_counts_against_the_senders_own_allowance(
    people: dict[str, Any], settings: Any, allowance: int
) -> None:
    """A personal template's batch is sent in the sender's own name: its groups lock and count
    the sender's allowance (once for a group that fits, row by row for one that does not)."""
    settings.QIANSHU_SEND_PER_USER_DAY = allowance
    alice, bob = people["alice"], people["bob"]
    draft = Builder().draft(alice, [("sign", 1, bob)], title="个人考核表", pages=1)
    version = do_save_template(
        draft, name="个人模板", choices=[RoleChoice("被考核人", False)], actor=alice, meta=TASK
    )
    rows = [
        {"title": f"个人 {i}", "r1.name": f"员工{i}", "r1.phone": f"1390000{i:04d}"}
        for i in range(1, 6)
    ]
    batch = do_import_batch(version, _sheet(version, rows), "个人.xlsx", actor=alice)
    do_start_batch(batch, actor=alice)
    with CaptureQueriesContext(connection) as queries:
        assert send_batch_rows(batch.pk, meta=TASK) == 5
    batch.refresh_from_db()
    sent = min(allowance, 5)
    assert (batch.sent, batch.failed) == (sent, 5 - sent)
    failed = BatchRow.objects.filter(batch=batch, status=BatchRow.Status.FAILED)
    assert all(f"您在 24 小时内最多可发起 {allowance} 个签署任务" in r.error for r in failed)
    envelopes = Envelope.objects.filter(template_use__batch=batch)
    assert envelopes.count() == sent
    assert not envelopes.filter(initiator_org__isnull=False).exists()
    assert all(check_chain(envelope) is None for envelope in envelopes)
    if connection.vendor == "postgresql":  # SQLite has no row locks
        locks = [
            q
            for q in queries.captured_queries
            if 'FROM "accounts_user"' in q["sql"] and "FOR NO KEY UPDATE" in q["sql"]
        ]
        # One group: one lock of the sender's allowance; else each row's send locks it.
        assert len(locks) == (1 if allowance == 10 else 5), len(locks)


@pytest.mark.parametrize("change", ["left", "archived"])
def test_the_rows_after_the_sender_left_or_the_template_was_archived_fail(
    version: Any, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """What a run reads once (the template, its organisation) does not outlive the rules: each
    group of rows (and each row sent alone) checks that the template is still active, and its
    send that the sender is still a member of the organisation (under the allowance lock)."""
    alice, org = people["alice"], people["org"]
    monkeypatch.setattr(bulk_actions, "GROUP", 2)
    batch = _batch(version, alice, _rows(5))
    real = new_drafts.send_prepared_drafts

    def then_change(items: Any, **kwargs: Any) -> None:
        real(items, **kwargs)
        if change == "left":
            Membership.objects.filter(org=org, user=alice).delete()
        else:
            Template.objects.filter(pk=version.template_id).update(status=Template.Status.ARCHIVED)

    monkeypatch.setattr(new_drafts, "send_prepared_drafts", then_change)
    assert send_batch_rows(batch.pk, meta=TASK) == 5
    batch.refresh_from_db()
    assert (batch.sent, batch.failed) == (2, 3)
    expected = "您已不是“北京千书大学”的成员" if change == "left" else "该模板已归档"
    errors = BatchRow.objects.filter(batch=batch, status=BatchRow.Status.FAILED)
    assert all(expected in row.error for row in errors), [r.error for r in errors]
    assert Envelope.objects.filter(template_use__version=version).count() == 2


def test_a_font_that_cannot_be_prepared_only_makes_the_run_slower(
    version: Any, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The subsetting accelerator is a speed-up: failing to make it must not leave the batch's
    rows pending with its task failed."""

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise ConfigurationError("cannot load the CJK font")

    monkeypatch.setattr(bulk_actions, "MANY_FILLS", 1)
    monkeypatch.setattr(cjkfont, "subsetting_many", broken)
    batch = _batch(version, people["alice"], _rows(2))
    assert send_batch_rows(batch.pk, meta=TASK) == 2
    batch.refresh_from_db()
    assert (batch.sent, batch.failed, batch.status) == (2, 0, Batch.Status.DONE)
