"""Seed 001 for real: the example procurement system (examples/procurement_mis) and Qianshu, each
a real process on loopback, talking through the open API and signed webhooks.

Qianshu runs as a web server and a ``db_worker`` (SMS, webhook delivery, completion) on the
test's database (see :mod:`tests.support.processes`); the procurement system (采购管理系统)
runs with its own SQLite database and an API key of the buyer, 北京千书科技有限公司. In the
browser: 接入设置 → 注册回调地址; 新增合同 → 提交审批 → 审批通过并推送签署 (upload, an
envelope with four recipients in order, fields at the contract's signature words, sent). Each
party then opens the link of its SMS, logs in with an SMS code, 一键盖章, 提交签署 → 结束盖章 →
PIN: 1 the supplier's representative signs, 2 the supplier seals (合同专用章), 3 the buyer's
representative signs, 4 采招办 seals with the buyer's 合同专用章 (chosen from the two seals its
administrator holds). After each turn the procurement system's contract page shows the step
done, from the webhooks alone. At the end it has downloaded 合同盖章终稿 and 签署报告 by itself.

Checked: every webhook Qianshu delivered was received once, stored with a signature that
Standard Webhooks' reference implementation accepts (sent, viewed ×4, signed ×4, completed);
a forged message is refused with 400 and logged, a repeated one is not applied twice; the
final PDF the procurement system stored is valid, trusted and B-LTA for our verifier (and
``qianshu verify --json`` as a process), pyHanko's long-term validation and poppler's pdfsig.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings as django_settings
from qianshu_client import Qianshu
from standardwebhooks import Webhook

from qianshu.accounts.models import User
from qianshu.api.actions.keys import do_create_api_key
from qianshu.api.models import Scope
from qianshu.core.meta import TASK
from qianshu.orgs.models import Organization, Seal
from qianshu.pki.actions import do_init_pki
from qianshu.pki.platform import load_platform
from qianshu.signing import pki
from tests.browser import scenario
from tests.browser.conftest import SIZES
from tests.support.processes import (
    PYTHONPATH,
    ROOT,
    Processes,
    free_port,
    shared_database_url,
    wait_for_http,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MIS_DIR = ROOT / "examples" / "procurement_mis"
TITLE = "办公设备采购合同"
SUPPLIER = "上海示例贸易有限公司"
BUYER = "北京千书科技有限公司"
# The parties in their turns, and the title of the result page each of them sees.
TURNS = [
    ("supplier-rep", "已签署，等待下一位签署方"),
    ("supplier", "已盖章"),
    ("buyer-rep", "已签署，等待下一位签署方"),
    ("tender-office", "全部签署完成"),
]
EXPECTED_EVENTS = Counter(
    {"envelope.sent": 1, "recipient.viewed": 4, "recipient.signed": 4, "envelope.completed": 1}
)


@pytest.fixture(autouse=True)
def _browser_settings(settings: Any, tmp_path: Path) -> None:
    """Replaces the browser tests' fixture: no in-process live server here, only blobs in a
    directory that the server process is given too."""
    from qianshu.storage.blobs import reset_blob_store_cache

    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = tmp_path / "blobs"
    reset_blob_store_cache()


@pytest.fixture
def processes(transactional_db: None, tmp_path: Path) -> Any:
    """Stopped before the test database is flushed (this fixture depends on it)."""
    started = Processes(tmp_path / "logs")
    try:
        yield started
    finally:
        started.close()


@dataclass
class World:
    supplier_rep: User  # 乙方履约代表, who also keeps the supplier's 合同专用章
    buyer_rep: User  # 甲方履约代表
    tender_admin: User  # 采招办管理员: administers the buyer, holds its 公章 and 合同专用章
    supplier: Organization
    buyer: Organization
    api_key: str


def _world() -> World:
    do_init_pki(name="测试平台")
    supplier_rep = scenario.person("张伟", "13900020001")
    buyer_rep = scenario.person("赵强", "13900020002")
    tender_admin = scenario.person("王磊", "13900020003")
    supplier = scenario.organisation(
        supplier_rep, SUPPLIER, seals=[(Seal.Kind.CONTRACT, supplier_rep)]
    )
    buyer = scenario.organisation(
        tender_admin,
        BUYER,
        seals=[(Seal.Kind.OFFICIAL, tender_admin), (Seal.Kind.CONTRACT, tender_admin)],
    )
    _key, plain = do_create_api_key(
        buyer, name="MIS", scopes=list(Scope.values), actor=tender_admin, meta=TASK
    )
    return World(supplier_rep, buyer_rep, tender_admin, supplier, buyer, plain)


def _qianshu_env(tmp_path: Path, url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": PYTHONPATH,
        "DJANGO_SETTINGS_MODULE": "tests.support.live_settings",
        "DATABASE_URL": shared_database_url(tmp_path),
        "QIANSHU_DEBUG": "1",  # the development outbox page, where the codes are read
        "QIANSHU_PUBLIC_URL": url,
        "QIANSHU_DATA_DIR": str(tmp_path / "qianshu"),
        "QIANSHU_STORAGE": "local",
        "QIANSHU_STORAGE_DIR": str(tmp_path / "blobs"),
        "QIANSHU_SECRET_KEY": django_settings.SECRET_KEY,
        "QIANSHU_MASTER_KEY": django_settings.MASTER_KEY,
        "QIANSHU_WEBHOOK_ALLOW_PRIVATE": "1",
    }


def _start_qianshu(processes: Processes, tmp_path: Path) -> tuple[str, dict[str, str]]:
    url = f"http://127.0.0.1:{free_port()}"
    env = _qianshu_env(tmp_path, url)
    python = sys.executable
    processes.start(
        "qianshu-web",
        [python, "-m", "qianshu", "runserver", url.removeprefix("http://"), "--noreload",
         "--skip-checks"],
        env=env,
    )  # fmt: skip
    processes.start(
        "qianshu-worker",
        [python, "-m", "qianshu", "db_worker", "--queue-name", "*", "--interval", "0.2",
         "--no-startup-delay", "--no-reload"],
        env=env,
    )  # fmt: skip
    wait_for_http(processes, url + "/login/", timeout=90)
    return url, env


def _start_mis(processes: Processes, tmp_path: Path, qianshu: str, w: World) -> tuple[str, Path]:
    url = f"http://127.0.0.1:{free_port()}"
    data = tmp_path / "mis"
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "PYTHONPATH": str(ROOT / "clients" / "python" / "src"),
        "DJANGO_SETTINGS_MODULE": "mis.settings",
        "MIS_QIANSHU_URL": qianshu,
        "MIS_QIANSHU_API_KEY": w.api_key,
        "MIS_PUBLIC_URL": url,
        "MIS_DATA_DIR": str(data),
        "MIS_SEAL_CONTACT_NAME": "王磊",
        "MIS_SEAL_CONTACT_PHONE": w.tender_admin.phone,
    }
    python = sys.executable
    processes.run("mis-migrate", [python, "manage.py", "migrate", "-v0"], env=env, cwd=MIS_DIR)
    processes.start(
        "mis",
        [python, "manage.py", "runserver", url.removeprefix("http://"), "--noreload"],
        env=env,
        cwd=MIS_DIR,
    )
    wait_for_http(processes, url + "/", timeout=60)
    return url, data


def _context(browser: Any, base_url: str) -> Any:
    context = browser.new_context(
        base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai", **SIZES["desktop"]
    )
    context.set_default_timeout(20_000)
    return context


# --- the procurement system's pages ------------------------------------------------------------


def _register_webhook(page: Any, shots: scenario.Shots) -> None:
    page.goto("/integration/")
    assert BUYER in page.get_by_test_id("integration-org").inner_text()
    page.get_by_test_id("register-webhook").click()
    page.get_by_test_id("integration-webhook").filter(has_text="已注册").wait_for()
    shots(page, "mis-integration")


def _new_contract(page: Any, w: World, shots: scenario.Shots) -> None:
    """新增合同 → 提交审批 → 审批通过并推送签署."""
    page.goto("/contracts/new/")
    values = {
        "title": TITLE,
        "amount": "128000.00",
        "supplier_name": SUPPLIER,
        "supplier_credit_code": w.supplier.credit_code,
        "supplier_rep_name": "张伟",
        "supplier_rep_phone": w.supplier_rep.phone,
        "buyer_rep_name": "赵强",
        "buyer_rep_phone": w.buyer_rep.phone,
    }
    for name, value in values.items():
        page.locator(f"#id_{name}").fill(value)
    shots(page, "mis-new-contract")
    page.get_by_test_id("contract-submit").click()
    page.get_by_test_id("contract-approve").wait_for()
    assert page.get_by_test_id("contract-status").get_attribute("data-status") == "draft"
    page.get_by_test_id("contract-approve").click()
    page.get_by_test_id("envelope-number").wait_for()
    assert not page.get_by_test_id("push-error").count()
    assert page.get_by_test_id("contract-status").get_attribute("data-status") == "signing"
    parties = page.get_by_test_id("step").locator("td:nth-child(3)").all_inner_texts()
    assert parties == ["张伟", SUPPLIER, "赵强", BUYER]
    shots(page, "mis-pushed")


def _steps(page: Any) -> list[str]:
    return list(
        page.get_by_test_id("step").evaluate_all("rows => rows.map(row => row.dataset.status)")
    )


def _wait_for_mis(page: Any, processes: Processes, what: str, check: Any) -> None:
    """Reload the contract page until ``check(page)`` holds (bounded)."""

    def shown() -> bool:
        page.reload()
        return bool(check(page))

    wait_until(shown, f"the procurement system does not show {what}", processes, timeout=60)


# --- the parties on Qianshu ------------------------------------------------------------------


def _sign_in_turn(
    browser: Any, qianshu: str, mis_page: Any, processes: Processes, w: World, shots: Any
) -> list[str]:
    seals = {
        "supplier": Seal.objects.get(org=w.supplier, kind=Seal.Kind.CONTRACT),
        "tender-office": Seal.objects.get(org=w.buyer, kind=Seal.Kind.CONTRACT),
    }
    who = {
        "supplier-rep": w.supplier_rep,
        "supplier": w.supplier_rep,
        "buyer-rep": w.buyer_rep,
        "tender-office": w.tender_admin,
    }
    errors: list[str] = []
    for index, (name, title) in enumerate(TURNS):
        context = _context(browser, qianshu)
        page = context.new_page()
        errors += scenario.watch(page)
        pointer = scenario.Pointer(page, touch=False)
        scenario.login_from_sms_link(page, who[name].phone, shots, name)
        page.get_by_test_id("sign-documents").wait_for()
        assert page.get_by_test_id("sign-title").inner_text() == TITLE
        pointer.press(page.get_by_test_id("sign-open").first)
        page.get_by_test_id("sign-stamp").wait_for()
        if name in seals:
            scenario.stamp(page, pointer, seal=seals[name], shot=shots, name=name)
        else:
            scenario.stamp(page, pointer, saved=True)
        assert scenario.all_mine_filled(page) == 1
        scenario.submit_with_pin(page, pointer, shots, name)
        assert title in page.get_by_test_id("sign-done-title").inner_text()
        context.close()
        _wait_for_mis(
            mis_page,
            processes,
            f"step {index + 1} done",
            lambda p, done=index + 1: _steps(p)[:done] == ["done"] * done,
        )
        shots(mis_page, f"mis-step-{index + 1}")
    return errors


# --- the checks ----------------------------------------------------------------------------------


def _stored_webhooks(data: Path) -> tuple[str, str, list[sqlite3.Row]]:
    """The procurement system's endpoint id, secret and stored events (its own database)."""
    db = sqlite3.connect(data / "mis.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        endpoint_id, secret = db.execute(
            "SELECT endpoint_id, secret FROM mis_webhooksubscription"
        ).fetchone()
        events = db.execute("SELECT * FROM mis_webhookevent ORDER BY id").fetchall()
    finally:
        db.close()
    return endpoint_id, secret, events


def _check_webhooks(qianshu: str, w: World, mis: str, data: Path, log: Callable[[], str]) -> None:
    endpoint_id, secret, events = _stored_webhooks(data)
    assert Counter(e["event_type"] for e in events) == EXPECTED_EVENTS, [
        e["event_type"] for e in events
    ]
    reference = Webhook(secret)
    for event in events:
        headers = {
            "webhook-id": event["message_id"],
            "webhook-timestamp": str(event["timestamp"]),
            "webhook-signature": event["signature"],
        }
        payload = reference.verify(event["body"], headers)  # raises unless signed by Qianshu
        assert payload["type"] == event["event_type"]
        assert event["applied_at"] is not None and event["contract_id"] is not None
    signed = [json.loads(e["body"])["data"]["recipient"] for e in events
              if e["event_type"] == "recipient.signed"]  # fmt: skip
    assert sorted(r["order"] for r in signed) == [1, 2, 3, 4]
    # Qianshu's side: every message it made for the endpoint was delivered, and those are the
    # messages the procurement system stored.
    with Qianshu(qianshu, w.api_key, retries=0) as qs:
        messages = qs.webhook_messages(endpoint_id)
    assert {m["status"] for m in messages} == {"delivered"}, messages
    assert {m["id"] for m in messages} == {e["message_id"] for e in events}

    # A forged message (a valid one with its body changed) is refused and logged; a repeated
    # genuine one is acknowledged and not applied again.
    last = events[-1]
    headers = {
        "webhook-id": "msg_forged",
        "webhook-timestamp": str(last["timestamp"]),
        "webhook-signature": last["signature"],
        "content-type": "application/json",
    }
    body = last["body"].replace("completed", "voided")
    forged = httpx.post(f"{mis}/webhooks/qianshu/", content=body.encode(), headers=headers)
    assert forged.status_code == 400
    repeated = httpx.post(
        f"{mis}/webhooks/qianshu/",
        content=last["body"].encode(),
        headers={**headers, "webhook-id": last["message_id"]},
    )
    assert repeated.status_code == 200 and repeated.text == "duplicate"
    assert len(_stored_webhooks(data)[2]) == len(events)
    assert "invalid signature" in log() and "msg_forged" in log()


def _check_with_cli(processes: Processes, data: bytes, tmp_path: Path, env: dict[str, str]) -> None:
    """``qianshu verify --json`` as a separate process, with the platform root given."""
    pdf, root = tmp_path / "final.pdf", tmp_path / "root.pem"
    pdf.write_bytes(data)
    root.write_bytes(pki.certificate_pem(load_platform().pki.root.certificate))
    out = processes.run(
        "qianshu verify",
        [sys.executable, "-m", "qianshu", "verify", "--json", "--trust", str(root), str(pdf)],
        env=env,
    )
    report = json.loads(out)
    assert report["verdict"] == "valid", report["reason"]
    assert all(s["trusted"] for s in report["signatures"])


def _check_signers(report: Any) -> None:
    platform = ("QS-Certification", "QS-Completion")
    signed = [
        s for s in report.signatures if s.kind == "signature" and s.field_name not in platform
    ]
    assert [s.signer_name for s in signed if not s.organisation] == ["张伟", "赵强"]
    assert [s.organisation for s in signed if s.organisation] == [SUPPLIER, BUYER]
    assert all("合同专用章" in s.signer_name for s in signed if s.organisation)


def test_procurement_system_pushes_a_contract_and_gets_it_back_signed(
    browser: Any, processes: Processes, tmp_path: Path, artifacts_dir: Path
) -> None:
    shots = scenario.Shots(artifacts_dir / "browser", "procurement-mis")
    w = _world()
    qianshu, qianshu_env = _start_qianshu(processes, tmp_path)
    mis, mis_data = _start_mis(processes, tmp_path, qianshu, w)
    mis_process = next(p for p in processes.started if p.name == "mis")

    mis_context = _context(browser, mis)
    mis_page = mis_context.new_page()
    errors = scenario.watch(mis_page)
    _register_webhook(mis_page, shots)
    _new_contract(mis_page, w, shots)
    contract_url = mis_page.url
    _wait_for_mis(
        mis_page,
        processes,
        "envelope.sent",
        lambda p: p.locator("[data-testid=event][data-type='envelope.sent']").count(),
    )

    errors += _sign_in_turn(browser, qianshu, mis_page, processes, w, shots)

    _wait_for_mis(
        mis_page,
        processes,
        "the completed contract with its files",
        lambda p: (
            p.get_by_test_id("contract-status").get_attribute("data-status") == "completed"
            and p.get_by_test_id("file-report").count()
        ),
    )
    assert mis_page.url == contract_url
    shots(mis_page, "mis-completed")
    name, signed = scenario.download(mis_page, "file-signed")
    assert name.endswith("合同盖章终稿.pdf")
    report = scenario.check_final_pdf(signed, tmp_path)
    _check_signers(report)
    _check_with_cli(processes, signed, tmp_path, qianshu_env)
    shots.pdf_page(signed, 0, "signed-contract")
    _name, evidence = scenario.download(mis_page, "file-report")
    summary = scenario.check_final_pdf(evidence, tmp_path, lta_validation=False)
    assert summary.signatures[0].kind == "certification"

    _check_webhooks(qianshu, w, mis, mis_data, mis_process.output)
    mis_context.close()
    assert errors == []
