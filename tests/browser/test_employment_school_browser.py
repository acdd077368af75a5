"""就业管理 in a browser, at phone and desktop sizes: a 学校管理员 switches to the school,
follows 等待签约鉴证 from the home page to 签约管理, fails one agreement in the reason dialog
and passes another with the school's seal and 签署密码 — back to the list after each, as the
manual describes; and imports a roster through the check page (a file with a problem first,
then a good one)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qianshu.employment.models import Agreement, EmploymentRecord, RosterEntry
from tests.browser import scenario
from tests.browser.flows import login_by_sms
from tests.employment.test_agreements import accept, invite
from tests.employment.world import make_world, roster_sheet, student_row
from tests.support.personas import PIN, make_signer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open(page: Any, number: str) -> None:
    row = page.locator(f'[data-testid="agreement-row"][data-number="{number}"]')
    row.get_by_test_id("agreement-open").click()
    page.get_by_test_id("section-events").wait_for()


def _setup() -> tuple[Any, Agreement, Agreement]:
    world = make_world()
    return (
        world,
        accept(world, invite(world, "黄河"), "黄河"),
        accept(world, invite(world, "长江"), "长江"),
    )


def test_the_school_verifies_from_its_pages(page: Any, shot: Callable[[Any, str], Path]) -> None:
    # signing runs asyncio (pyHanko): not in this thread while Playwright's loop runs
    world, failing, passing = scenario.off_loop(_setup)
    login_by_sms(page, world.school_admin.phone)
    page.goto("/employment/school/")
    page.get_by_test_id("school-not-school").wait_for()
    page.get_by_test_id("school-switch").click()  # 切换身份 to the school
    page.goto("/employment/")
    page.wait_for_url("**/employment/school/")
    assert page.get_by_test_id("count-waiting").inner_text().startswith("2")
    shot(page, "home")
    page.get_by_test_id("count-waiting").click()
    page.get_by_test_id("agreements").wait_for()
    shot(page, "agreements")

    _open(page, failing.number)
    page.get_by_test_id("fail-open").click()
    page.get_by_test_id("fail-reason").fill("岗位信息不完整")
    shot(page, "fail-dialog")
    page.get_by_test_id("fail-submit").click()
    page.wait_for_url("**/employment/school/agreements/")
    assert "签约鉴证不通过" in page.locator(".messages").inner_text()

    _open(page, passing.number)
    page.get_by_test_id("employer-address").fill("武汉市光谷大道 1 号")
    page.get_by_test_id("pin").fill(PIN)
    shot(page, "detail")
    page.get_by_test_id("pass-submit").click()
    page.wait_for_url("**/employment/school/agreements/", timeout=60_000)
    assert "签约鉴证通过" in page.locator(".messages").inner_text()
    shot(page, "after-pass")

    failing.refresh_from_db()
    passing.refresh_from_db()
    assert failing.status == Agreement.Status.FAILED and failing.reason == "岗位信息不完整"
    assert passing.status == Agreement.Status.PASSED
    assert EmploymentRecord.objects.filter(agreement=passing).exists()


def test_the_school_imports_its_roster_through_the_check_page(
    page: Any, shot: Callable[[Any, str], Path], tmp_path: Path
) -> None:
    world = scenario.off_loop(make_world)
    people = scenario.off_loop(
        lambda: [make_signer(f"new{i}", f"1370000008{i}", real_name=f"新生{i}") for i in range(2)]
    )
    rows = [student_row(p, f"2026020{i}", "数学学院") for i, p in enumerate(people)]
    bad = tmp_path / "有误的名单.xlsx"
    bad.write_bytes(roster_sheet([*rows, {**rows[0], "student_no": "20260299"}]))
    good = tmp_path / "名单.xlsx"
    good.write_bytes(roster_sheet(rows))
    login_by_sms(page, world.school_admin.phone)
    page.goto("/employment/school/")
    page.get_by_test_id("school-switch").click()
    page.goto("/employment/school/roster/")
    page.get_by_test_id("roster-import-file").set_input_files(str(bad))
    shot(page, "roster")
    page.get_by_test_id("roster-import-submit").click()
    page.get_by_test_id("roster-check-problems").wait_for()
    assert "第 4 行" in page.get_by_test_id("roster-problem").first.inner_text()
    assert page.get_by_test_id("roster-confirm").count() == 0
    shot(page, "check-problems")
    page.get_by_test_id("roster-reupload").click()
    page.get_by_test_id("roster-import-file").set_input_files(str(good))
    page.get_by_test_id("roster-import-submit").click()
    page.get_by_test_id("roster-check-ok").wait_for()
    page.get_by_test_id("roster-confirm").click()
    page.get_by_test_id("roster").wait_for()
    assert "已导入 2 名学生" in page.locator(".messages").inner_text()
    assert "新生1" in page.get_by_test_id("roster").inner_text()
    shot(page, "imported")
    assert RosterEntry.objects.filter(school=world.school, college__name="数学学院").count() == 2
