"""The 签署日志 of an envelope and the 用印记录 of an organisation read on a phone (issue 12,
defect 3): at 360 px each row is a stack of labelled lines, every cell as wide as the card and
nothing cut off or scrolled sideways; at desktop size they stay tables with readable columns.
Measured in Chromium, with an IPv6 address and a long file name as the worst cases."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from django.test import RequestFactory

from qianshu.core.meta import TASK, request_meta
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import turns as turns_actions
from qianshu.orgs.models import SealUsage
from qianshu.pki.actions import do_init_pki
from tests.browser.flows import login_by_sms
from tests.envelopes.helpers import Builder
from tests.support.personas import make_seal_org, make_signer, seal_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IPV6 = "2001:db8:85a3:1234:5678:8a2e:370:7334"
LONG_NAME = "2026年度武汉理工大学创业学院教职工年度考核登记表（何建宇）最终版本扫描件"

MEASURE = """(selector) => {
  const table = document.querySelector(selector);
  const wrap = table.closest('.table-wrap') || table.parentElement;
  const visible = (el) => el.getClientRects().length > 0;
  const box = (el) => el.getBoundingClientRect();
  return {
    viewport: document.documentElement.clientWidth,
    pageWidth: document.documentElement.scrollWidth,
    wrapOverflow: wrap.scrollWidth - wrap.clientWidth,
    tableRight: box(table).right,
    heads: [...table.querySelectorAll('thead th')].filter(visible).map((th) => box(th).width),
    rows: [...table.querySelectorAll('tbody tr')].map((tr) => box(tr).height),
    cells: [...table.querySelectorAll('tbody td')].filter(visible).map((td) => ({
      label: td.dataset.label || '',
      text: td.innerText,
      width: box(td).width,
      right: box(td).right,
      overflow: td.scrollWidth - td.clientWidth,
    })),
  };
}"""


def _world() -> dict[str, Any]:
    # Made in another thread: Playwright's event loop runs in this one, pyHanko runs its own.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_make_world).result()


def _make_world() -> dict[str, Any]:
    try:
        do_init_pki(name="测试平台")
        alice, bob = make_signer("alice"), make_signer("bob")
        envelope = Builder().draft(
            alice, [("sign", 1, bob)], title="年度考核表", file_stem=LONG_NAME
        )
        request = RequestFactory().post("/", REMOTE_ADDR=IPV6)
        request.user = alice
        compose_actions.do_send_envelope(envelope, actor=alice, meta=request_meta(request))
        turns_actions.do_reject(envelope.recipients.get(), "考核等次有误", actor=bob, meta=TASK)
        org = make_seal_org(alice)
        for n in range(3):
            SealUsage.objects.create(
                seal=seal_of(org),
                user=alice,
                document_name=f"{LONG_NAME}{n}.pdf",
                document_sha256="ab" * 32,
                ip=IPV6,
            )
        return {"alice": alice, "envelope": envelope, "org": org}
    finally:
        connection.close()


def _check_phone(m: dict[str, Any]) -> None:
    viewport = m["viewport"]
    assert viewport == 360
    assert m["pageWidth"] <= viewport, m["pageWidth"]  # nothing scrolls sideways
    assert m["wrapOverflow"] <= 0, m["wrapOverflow"]
    assert m["tableRight"] <= viewport
    assert m["heads"] == []  # the header row gives way to each cell's own label
    for cell in m["cells"]:
        assert cell["width"] >= viewport * 0.7, cell  # a full-width line, not a 36 px column
        assert cell["right"] <= viewport, cell
        assert cell["overflow"] <= 1, cell  # nothing cut off inside the cell


def _check_desktop(m: dict[str, Any]) -> None:
    assert m["pageWidth"] <= m["viewport"]
    assert len(m["heads"]) >= 4 and min(m["heads"]) >= 40, m["heads"]
    assert max(m["rows"]) <= 100, m["rows"]
    for cell in m["cells"]:
        assert cell["overflow"] <= 1, cell


def test_the_envelope_log_reads_on_a_phone_and_a_desktop(page: Any, shot: Any, size: str) -> None:
    w = _world()
    login_by_sms(page, w["alice"].phone)
    page.goto(f"/envelopes/{w['envelope'].uuid}/")
    page.get_by_test_id("audit-log").scroll_into_view_if_needed()
    m = page.evaluate(MEASURE, "[data-testid=audit-log]")
    shot(page, "audit-log")
    texts = [cell["text"] for cell in m["cells"]]
    assert any(IPV6 in text for text in texts)  # the whole address is there
    assert any(LONG_NAME in text for text in texts)
    if size == "phone":
        _check_phone(m)
        labels = {cell["label"] for cell in m["cells"]}
        assert {"操作人", "操作", "IP"} <= labels
        ip_cell = next(cell for cell in m["cells"] if IPV6 in cell["text"])
        assert ip_cell["label"] == "IP"  # labelled (::before), not a bare number
    else:
        _check_desktop(m)


def test_the_usage_log_reads_on_a_phone_and_a_desktop(page: Any, shot: Any, size: str) -> None:
    w = _world()
    login_by_sms(page, w["alice"].phone)
    page.goto(f"/orgs/{w['org'].uuid}/usage/")
    m = page.evaluate(MEASURE, "[data-testid=usage-table]")
    shot(page, "usage-log")
    assert len(m["rows"]) == 3
    assert any(LONG_NAME in cell["text"] for cell in m["cells"])
    if size == "phone":
        _check_phone(m)
    else:
        _check_desktop(m)
