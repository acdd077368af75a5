"""批量发起 (issue 14): the template's spreadsheet, the check page before anything is sent (every
error class named by row and column), sending in the background where a failed row never
stops the others, the result file, a file sent twice, and a 10,000-row file read in streaming
mode with bounded memory."""

from __future__ import annotations

import io
import tracemalloc
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from openpyxl import Workbook, load_workbook

from qianshu.core import sheets
from qianshu.core.meta import TASK
from qianshu.doctemplates import bulk
from qianshu.doctemplates.actions import bulk as bulk_actions
from qianshu.doctemplates.actions.bulk import do_import_batch, do_start_batch, send_batch_rows
from qianshu.doctemplates.actions.templates import do_save_template
from qianshu.doctemplates.errors import TemplateError
from qianshu.doctemplates.models import Batch, BatchRow, Template, TemplateUse
from qianshu.doctemplates.snapshots import RoleChoice
from qianshu.envelopes.audit import check_chain
from qianshu.envelopes.models import Envelope
from tests.envelopes.helpers import Builder
from tests.identity.helpers import logged_in
from tests.support.personas import real_name, valid_credit_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(people: dict[str, Any]) -> dict[str, Any]:
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
    return {**people, "version": version}


def _sheet(version: Any, rows: list[dict[str, str]], *, keep_example: bool = True) -> bytes:
    """The downloaded spreadsheet, filled in from row 3 (values by column key)."""
    cols = bulk.columns(version.roles)
    book = load_workbook(io.BytesIO(bulk.workbook(version.roles, "考核")))
    sheet = book.active
    assert sheet is not None
    if not keep_example:
        sheet.delete_rows(2)
    for values in rows:
        sheet.append([values.get(c.key, "") for c in cols])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_spreadsheet_has_a_column_per_open_role_and_an_example(world: dict[str, Any]) -> None:
    response = logged_in(world["alice"]).get(
        f"/templates/{world['version'].template.uuid}/bulk.xlsx"
    )
    assert response.status_code == 200 and response["Content-Type"] == bulk.XLSX_TYPE
    data = b"".join(response.streaming_content) if response.streaming else response.content
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert header == ["任务名称（可不填）", "被考核人-姓名", "被考核人-手机号", "被考核人-电子邮箱"]
    assert sheet["B2"].value == "张三"  # the example row
    rules = sheet.data_validations.dataValidation
    assert any(r.type == "textLength" and "C3" in str(r.sqref) for r in rules)
    # Nothing in the example row is imported.
    with pytest.raises(TemplateError, match="没有可导入的数据行"):
        do_import_batch(world["version"], data, "空.xlsx", actor=world["alice"])


def test_the_check_page_names_every_problem_and_sends_nothing(world: dict[str, Any]) -> None:
    bob = world["bob"]
    rows = [
        {"r1.name": "王小明", "r1.phone": "13900001111"},  # 3: fine
        {"r1.name": "", "r1.phone": "13900002222"},  # 4: missing name
        {"r1.name": "李雷", "r1.phone": "1390000"},  # 5: invalid phone
        {"r1.name": "韩梅梅", "r1.email": "not-an-address"},  # 6: invalid e-mail
        {"r1.name": "赵六"},  # 7: neither phone nor e-mail
        {"r1.name": "冒名者", "r1.phone": bob.phone},  # 8: a verified person's phone
        {"r1.name": "王小明", "r1.phone": "139 0000 1111"},  # 9: row 3 again
        {"title": "长" * 101, "r1.name": "钱七", "r1.phone": "13900003333"},  # 10: too long
        {"r1.name": real_name(bob), "r1.phone": bob.phone},  # 11: fine (the real person)
    ]
    alice = logged_in(world["alice"])
    template = world["version"].template
    before = Envelope.objects.count()
    uploaded = alice.post(
        f"/templates/{template.uuid}/bulk/",
        {"file": SimpleUploadedFile("考核.xlsx", _sheet(world["version"], rows))},
    )
    assert uploaded.status_code == 302, uploaded.content.decode()[:3000]
    batch = Batch.objects.get()
    assert (batch.total, batch.valid) == (9, 2)
    problems = {r.row_number: r.problems for r in BatchRow.objects.filter(batch=batch)}
    assert problems[3] == [] and problems[11] == []
    assert problems[4] == ["被考核人-姓名：必填"]
    assert problems[5] == ["被考核人-手机号：手机号格式不正确"]
    assert problems[6] == ["被考核人-电子邮箱：电子邮箱格式不正确"]
    assert problems[7] == ["被考核人-手机号：请填写手机号或电子邮箱"]
    assert problems[8] == ["被考核人-姓名：与该手机号已实名认证的姓名不一致，请核对姓名和手机号"]
    assert problems[9] == ["与第 3 行重复"]
    assert problems[10] == ["任务名称（可不填）：最多 100 个字"]
    page = alice.get(uploaded["Location"]).content.decode()
    assert "第 5 行" in page and "手机号格式不正确" in page and "发起无误的 2 行" in page
    assert Envelope.objects.count() == before  # nothing is sent by the check


def test_an_open_seal_role_checks_the_credit_code(world: dict[str, Any]) -> None:
    draft = Builder().draft(
        world["alice"], [("seal", 1, world["org"])], org=world["org"], title="协议", pages=1
    )
    version = do_save_template(
        draft,
        name="合作协议",
        choices=[RoleChoice("合作单位", False)],
        actor=world["alice"],
        meta=TASK,
    )
    rows = [
        {"r1.name": "甲公司", "r1.org_credit_code": "123", "r1.phone": "13900001111"},
        {"r1.name": "乙公司", "r1.org_credit_code": valid_credit_code(), "r1.phone": ""},
    ]
    batch = do_import_batch(version, _sheet(version, rows), "协议.xlsx", actor=world["alice"])
    found = {r.row_number: r.problems for r in batch.rows.all()}
    assert found[3] == ["合作单位-统一社会信用代码：统一社会信用代码应为 18 位，您输入了 3 位。"]
    assert found[4] == ["合作单位-联系人手机号：必填"]


@pytest.mark.parametrize("where", ["certifying", "sending"])
def test_sending_continues_past_a_failed_row(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """A row that breaks while its document is certified (before the allowance lock: it fails
    alone in its group) or while it is sent (under the lock: the group is rolled back and its
    rows sent one by one) fails; the others are sent."""
    rows = [
        {"title": f"考核表 {i}", "r1.name": f"员工{i}", "r1.phone": f"1390000{i:04d}"}
        for i in range(1, 6)
    ]
    batch = do_import_batch(
        world["version"], _sheet(world["version"], rows), "考核.xlsx", actor=world["alice"]
    )
    compose = bulk_actions.new_drafts.compose_actions
    name = "_prepared_bytes" if where == "certifying" else "_start_routing"
    real = getattr(compose, name)

    def flaky(envelope: Envelope, *args: Any, **kwargs: Any) -> Any:
        if envelope.title == "考核表 3":
            raise RuntimeError("disk on fire")
        return real(envelope, *args, **kwargs)

    monkeypatch.setattr(compose, name, flaky)
    alice = logged_in(world["alice"])
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert alice.post(f"/templates/batches/{batch.uuid}/", {"op": "send"}).status_code == 302
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DONE and (batch.sent, batch.failed) == (4, 1)
    failed = BatchRow.objects.get(batch=batch, status=BatchRow.Status.FAILED)
    assert failed.values["title"] == "考核表 3" and "RuntimeError" in failed.error
    assert not Envelope.objects.filter(title="考核表 3").exists()  # rolled back with its row
    sent = Envelope.objects.filter(title__startswith="考核表 ").exclude(status="draft")
    assert sent.count() == 4
    # Each row's trail was written in one go (audit.deferred): whole, numbered, every MAC right.
    for envelope in sent:
        assert check_chain(envelope) is None
        assert envelope.events.count() == envelope.audit_count >= 4
    used = TemplateUse.objects.filter(batch=batch).values_list("envelope__title", flat=True)
    assert set(used) == {"考核表 1", "考核表 2", "考核表 4", "考核表 5"}
    # Sending again sends nothing twice; the result file lists every row.
    assert send_batch_rows(batch.pk, meta=TASK) == 0
    result = alice.get(f"/templates/batches/{batch.uuid}/result.xlsx")
    data = b"".join(result.streaming_content) if result.streaming else result.content
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [v[2] for v in values] == ["已发起", "已发起", "发起失败", "已发起", "已发起"]
    assert all(v[3] for v in values if v[2] == "已发起")
    # Another user sees nothing of the batch.
    assert logged_in(world["bob"]).get(f"/templates/batches/{batch.uuid}/").status_code == 404


def test_the_same_file_twice_is_noticed(world: dict[str, Any]) -> None:
    data = _sheet(world["version"], [{"r1.name": "王小明", "r1.phone": "13900001111"}])
    first = do_import_batch(world["version"], data, "考核.xlsx", actor=world["alice"])
    do_start_batch(first, actor=world["alice"])
    second = do_import_batch(world["version"], data, "考核（2）.xlsx", actor=world["alice"])
    page = logged_in(world["alice"]).get(f"/templates/batches/{second.uuid}/").content.decode()
    assert "同一个文件之前已经导入过" in page and first.number in page


def test_unusable_files_are_refused_with_a_reason(world: dict[str, Any]) -> None:
    alice = logged_in(world["alice"])
    url = f"/templates/{world['version'].template.uuid}/bulk/"
    not_xlsx = alice.post(url, {"file": SimpleUploadedFile("a.xlsx", b"%PDF-1.7 nope")})
    assert not_xlsx.status_code == 400 and "无法读取该文件" in not_xlsx.content.decode()
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "电话"])
    sheet.append(["王小明", "13900001111"])
    out = io.BytesIO()
    book.save(out)
    wrong = alice.post(url, {"file": SimpleUploadedFile("b.xlsx", out.getvalue())})
    assert wrong.status_code == 400 and "表头缺少" in wrong.content.decode()
    assert not Batch.objects.exists()
    Template.objects.update(status=Template.Status.ARCHIVED)
    assert alice.get(url).status_code == 404


def test_ten_thousand_rows_in_bounded_memory(world: dict[str, Any]) -> None:
    """The sheet is parsed in streaming mode (here in this process, to measure it: the peak of
    Python allocations stays far below what holding the sheet's cells would take), and the
    whole import of 10,000 rows goes through the limited child."""
    cols = bulk.columns(world["version"].roles)
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append([c.header for c in cols])
    for i in range(10_000):
        sheet.append(["", f"员工{i:05d}", f"139{i:08d}", ""])
    out = io.BytesIO()
    book.save(out)
    data = out.getvalue()
    headers = [(c.key, c.header) for c in cols]
    tracemalloc.start()
    try:
        status, rows = sheets.parse_sheet(data, headers, {}, bulk.MAX_ROWS)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == "ok" and len(rows) == 10_000
    # Measured ~5 MB with the rows it returns; a non-streaming load alone takes ~16 MB.
    assert peak < 10 * 1024 * 1024, peak
    checked = list(bulk.check_rows(bulk.read_rows(data, cols), cols))
    assert len(checked) == 10_000 and not any(r.problems for r in checked)


def test_a_zip_bomb_is_refused_before_it_is_parsed(world: dict[str, Any]) -> None:
    """An XLSX is a ZIP: one that would expand past the limit is refused from its directory."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/sharedStrings.xml", "w") as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(sheets.MAX_UNZIPPED_BYTES // len(chunk) + 1):
                member.write(chunk)
    data = out.getvalue()
    assert len(data) < 2 * 1024 * 1024
    with pytest.raises(TemplateError, match="文件解压后过大"):
        do_import_batch(world["version"], data, "炸弹.xlsx", actor=world["alice"])


def test_more_rows_than_allowed_are_refused(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "MAX_ROWS", 20)
    rows = [{"r1.name": f"员工{i}", "r1.phone": f"139{i:08d}"} for i in range(21)]
    data = _sheet(world["version"], rows)
    with pytest.raises(TemplateError, match="最多导入 20 行"):
        do_import_batch(world["version"], data, "大.xlsx", actor=world["alice"])


def test_the_batch_page_follows_reminds_and_the_list_filters_by_batch(
    world: dict[str, Any],
) -> None:
    rows = [{"r1.name": f"员工{i}", "r1.phone": f"1390000{i:04d}"} for i in range(1, 4)]
    batch = do_import_batch(
        world["version"], _sheet(world["version"], rows), "考核.xlsx", actor=world["alice"]
    )
    alice = logged_in(world["alice"])
    with TestCase.captureOnCommitCallbacks(execute=True):
        alice.post(f"/templates/batches/{batch.uuid}/", {"op": "send"})
    page = alice.get(f"/templates/batches/{batch.uuid}/").content.decode()
    assert "签署中：3" in page
    reminded = alice.post(f"/templates/batches/{batch.uuid}/", {"op": "remind"}, follow=True)
    assert "已催签 3 个任务（0 个" in reminded.content.decode()
    again = alice.post(f"/templates/batches/{batch.uuid}/", {"op": "remind"}, follow=True)
    assert "已催签 0 个任务（3 个" in again.content.decode()
    # The list filters by batch number and by template; another batch's envelopes stay out.
    other = do_import_batch(
        world["version"],
        _sheet(world["version"], [{"r1.name": "别人", "r1.phone": "13900009999"}]),
        "另一批.xlsx",
        actor=world["alice"],
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        alice.post(f"/templates/batches/{other.uuid}/", {"op": "send"})
    listed = alice.get(f"/envelopes/?tab=others&batch={batch.number}").content.decode()
    ours = {str(e.uuid) for e in Envelope.objects.filter(template_use__batch=batch)}
    theirs = {str(e.uuid) for e in Envelope.objects.filter(template_use__batch=other)}
    assert len(ours) == 3 and len(theirs) == 1
    assert listed.count('data-testid="list-row"') == 3
    assert all(u in listed for u in ours) and not any(u in listed for u in theirs)
    by_template = alice.get(
        f"/envelopes/?tab=others&template={world['version'].template.uuid}"
    ).content.decode()
    assert by_template.count('data-testid="list-row"') == 4
    nothing = alice.get("/envelopes/?tab=others&batch=B000").content.decode()
    assert 'data-testid="list-row"' not in nothing
    # Nothing completed yet: the download says so.
    empty = alice.post(f"/templates/batches/{batch.uuid}/download/", follow=True)
    assert "还没有已完成的任务" in empty.content.decode()


def test_a_batch_is_shared_by_as_many_workers_as_it_can_use(settings: Any) -> None:
    from qianshu.doctemplates.tasks import senders

    settings.QIANSHU_BULK_SENDERS = 2
    assert [senders(Batch(valid=n)) for n in (1, 50, 51, 1000)] == [1, 1, 2, 2]
    settings.QIANSHU_BULK_SENDERS = 5
    assert senders(Batch(valid=120)) == 3


def test_the_page_follows_a_batch_while_it_is_sent(world: dict[str, Any]) -> None:
    """While the workers send (tests run tasks at once, so the state is set here), the page
    refreshes itself and shows how far they are."""
    rows = [{"r1.name": f"员工{i}", "r1.phone": f"1390000{i:04d}"} for i in range(1, 5)]
    batch = do_import_batch(
        world["version"], _sheet(world["version"], rows), "考核.xlsx", actor=world["alice"]
    )
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.SENDING, sent=1, failed=1)
    page = logged_in(world["alice"]).get(f"/templates/batches/{batch.uuid}/").content.decode()
    assert '<meta http-equiv="refresh" content="3">' in page
    assert 'value="50"' in page and "已发起 1 份，失败 1 份，共 4 份。" in page
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.DONE, sent=3)
    done = logged_in(world["alice"]).get(f"/templates/batches/{batch.uuid}/").content.decode()
    assert 'http-equiv="refresh"' not in done and "下载结果（Excel）" in done
