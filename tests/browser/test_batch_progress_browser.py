"""批量发起 as the initiator watches it: the batch page follows the workers by itself.

The suite runs tasks at once, so here the batch is started without its task and the rows are
sent from the test thread, in two steps, while the page is open: the page must show each step
without anybody reloading it, then stop refreshing once the batch is done.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from qianshu.core.meta import TASK
from qianshu.doctemplates import bulk
from qianshu.doctemplates.actions.bulk import do_import_batch, do_start_batch, send_batch_rows
from qianshu.doctemplates.actions.templates import do_save_template
from qianshu.doctemplates.snapshots import RoleChoice
from qianshu.pki.actions import do_init_pki
from tests.browser import scenario
from tests.browser.flows import login_by_sms
from tests.envelopes.helpers import Builder
from tests.support.personas import make_signer, make_verified_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = 4


def _batch() -> tuple[Any, Any]:
    do_init_pki(name="测试平台")
    hr = make_signer("hr", "13500000101", real_name="孙丽")
    employee = make_signer("employee", "13500000102", real_name="何建宇")
    org = make_verified_org(hr, name="北京千书大学")
    draft = Builder().draft(
        hr, [("sign", 1, employee), ("seal", 2, org)], org=org, title="考核表", pages=1
    )
    version = do_save_template(
        draft,
        name="年度考核表",
        choices=[RoleChoice("被考核人", False), RoleChoice("人事处", True)],
        actor=hr,
        meta=TASK,
    )
    book = load_workbook(io.BytesIO(bulk.workbook(version.roles, "考核")))
    sheet = book.active
    assert sheet is not None
    sheet.delete_rows(2)  # the example row
    keys = [c.key for c in bulk.columns(version.roles)]
    for i in range(ROWS):
        values = {"r1.name": f"员工{i}", "r1.phone": f"1390000{i:04d}"}
        sheet.append([values.get(k, "") for k in keys])
    out = io.BytesIO()
    book.save(out)
    batch = do_import_batch(version, out.getvalue(), "考核.xlsx", actor=hr)
    assert batch.valid == ROWS
    # 发起 without its task: the test thread plays the workers
    return hr, do_start_batch(batch, actor=hr)


def test_the_batch_page_follows_the_workers_by_itself(new_context: Any) -> None:
    hr, batch = scenario.off_loop(_batch)
    page = new_context("desktop").new_page()
    errors = scenario.watch(page)
    login_by_sms(page, hr.phone)
    page.goto(f"/templates/batches/{batch.uuid}/")
    assert page.get_by_test_id("batch-status").inner_text() == "发起中"
    assert page.get_by_test_id("batch-progress").get_attribute("value") == "0"
    loads: list[str] = []
    page.on("load", lambda: loads.append(page.url))

    assert scenario.off_loop(send_batch_rows, batch.pk, meta=TASK, limit=2) == 2
    summary = page.get_by_test_id("batch-summary")
    summary.filter(has_text=f"已发起 2 份，失败 0 份，共 {ROWS} 份。").wait_for(timeout=15_000)
    assert page.get_by_test_id("batch-progress").get_attribute("value") == "50"
    assert page.get_by_test_id("batch-status").inner_text() == "发起中"

    assert scenario.off_loop(send_batch_rows, batch.pk, meta=TASK) == 2
    page.get_by_test_id("batch-status").filter(has_text="已完成").wait_for(timeout=15_000)
    assert f"已发起 {ROWS} 份，失败 0 份" in summary.inner_text()
    assert page.get_by_test_id("batch-count-in_progress").inner_text() == f"签署中：{ROWS}"
    assert len(loads) >= 2  # the page reloaded itself, nobody else did
    # done: no more refreshing
    settled = len(loads)
    page.wait_for_timeout(4_000)
    assert len(loads) == settled
    assert errors == []
