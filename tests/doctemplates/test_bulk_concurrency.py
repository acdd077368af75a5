"""批量发起 by two task workers at once (PostgreSQL): they share the rows (none is sent twice),
certify in parallel, and together never pass the organisation's 24-hour allowance — the rows
over it fail with the allowance's message and leave nothing behind."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from qianshu.core.meta import TASK
from qianshu.doctemplates.actions import bulk as bulk_actions
from qianshu.doctemplates.actions.bulk import do_import_batch, do_start_batch, send_batch_rows
from qianshu.doctemplates.actions.templates import do_save_template
from qianshu.doctemplates.models import Batch, BatchRow, TemplateUse
from qianshu.doctemplates.snapshots import RoleChoice
from qianshu.envelopes.audit import check_chain
from qianshu.envelopes.models import Envelope
from tests.doctemplates.test_bulk import _sheet
from tests.envelopes.helpers import Builder

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("group", "allowance"),
    [
        (10, 5),  # one worker's group of 8 does not fit: its rows are sent one by one
        (4, 7),  # two groups of 4 both fit the count before the lock; one is refused under it
    ],
)
def test_two_workers_share_a_batch_within_the_allowance(
    people: dict[str, Any],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    group: int,
    allowance: int,
) -> None:
    monkeypatch.setattr(bulk_actions, "GROUP", group)
    settings.QIANSHU_SEND_PER_ORG_DAY = allowance
    alice, bob, org = people["alice"], people["bob"], people["org"]
    draft = Builder().draft(
        alice, [("sign", 1, bob), ("seal", 2, org)], org=org, title="考核表", pages=1
    )
    version = do_save_template(
        draft,
        name="年度考核表",
        choices=[RoleChoice("被考核人", False), RoleChoice("人事处", True)],
        actor=alice,
        meta=TASK,
    )
    rows = [
        {"title": f"考核表 {i}", "r1.name": f"员工{i}", "r1.phone": f"1390000{i:04d}"}
        for i in range(1, 9)
    ]
    batch = do_import_batch(version, _sheet(version, rows), "考核.xlsx", actor=alice)
    do_start_batch(batch, actor=alice)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=30)
            send_batch_rows(batch.pk, meta=TASK)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert not errors, errors
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DONE
    assert (batch.sent, batch.failed) == (allowance, 8 - allowance)
    failed = BatchRow.objects.filter(batch=batch, status=BatchRow.Status.FAILED)
    assert all(f"24 小时内最多可发起 {allowance} 个" in row.error for row in failed)
    sent = Envelope.objects.exclude(status=Envelope.Status.DRAFT).exclude(pk=draft.pk)
    assert sent.count() == allowance
    assert Envelope.objects.filter(title__startswith="考核表 ").count() == allowance  # no leftovers
    assert TemplateUse.objects.filter(batch=batch).count() == allowance
    envelopes = set(
        BatchRow.objects.filter(batch=batch, status=BatchRow.Status.SENT).values_list(
            "envelope", flat=True
        )
    )
    assert envelopes == set(sent.values_list("pk", flat=True))
    for envelope in sent:
        assert check_chain(envelope) is None
        assert envelope.documents.get().revision == 1
