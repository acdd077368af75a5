"""Seed 001 end to end in the browser: a procurement contract (采购合同) signed by four parties.

The procurement office (陈静, acting for the buyer 北京千书科技有限公司) starts the envelope in the
browser: a 3-page contract, four parties in a fixed order — 1 the supplier's representative
(个人签署), 2 the supplier (企业盖章), 3 the buyer's representative (个人签署), 4 the tendering
office (企业盖章 with 合同专用章) — a signature for each person, a seal for each organisation and a
骑缝章 over all pages for the supplier. Each party then opens the link of the SMS they got, logs in
with an SMS code, 一键盖章 (the saved signature, or the granted seal), 提交签署 → 结束盖章 → PIN.
The signers use a phone (360 px, touch) in one run and a desktop in the other; the office works
at its desktop. The signed PDF and the 签署报告 downloaded from the envelope page verify: valid,
trusted, B-LTA — in our verifier, in pyHanko's ETSI long-term validation and in poppler's pdfsig.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qianshu.accounts.models import User
from qianshu.envelopes.models import AuditEvent, Envelope, Field, Recipient
from qianshu.notifications.models import OutboxMessage
from qianshu.orgs.models import Organization, Seal
from qianshu.pki.actions import do_init_pki
from qianshu.signing.samples import make_test_pdf
from tests.browser import scenario
from tests.browser.flows import login_by_sms
from tests.browser.scenario import Pointer, Row, at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLE = "办公设备采购合同（2024-CG-0117）"
SUPPLIER = "上海示例贸易有限公司"  # 乙方 of the test contract
BUYER = "北京千书科技有限公司"  # 甲方
# The signature block of the contract's last page: 甲方 on the left, 乙方 on the right.
SPOTS = {
    "supplier_rep": at(395, 112),
    "supplier_seal": at(405, 190),
    "buyer_rep": at(170, 112),
    "tender_seal": at(180, 190),
    "cross_page": (0.5, 0.5),
}


@pytest.fixture(autouse=True)
def _pki() -> None:
    do_init_pki(name="测试平台")


@dataclass
class World:
    office: User  # 采购经办人 of the buyer: starts the envelope
    supplier_rep: User  # 乙方履约代表
    supplier_keeper: User  # the supplier's 用印人
    buyer_rep: User  # 甲方履约代表
    tender_admin: User  # 采招办管理员: seals with the buyer's 合同专用章
    supplier: Organization
    buyer: Organization


def _world() -> World:
    office = scenario.person("陈静", "13900010001")
    supplier_rep = scenario.person("张伟", "13900010002")
    supplier_keeper = scenario.person("李娜", "13900010003")
    buyer_rep = scenario.person("赵强", "13900010004")
    tender_admin = scenario.person("王磊", "13900010005")
    # The supplier's keeper holds two seals (公章 and 合同专用章) and picks one when sealing.
    supplier = scenario.organisation(
        supplier_keeper,
        SUPPLIER,
        seals=[(Seal.Kind.OFFICIAL, supplier_keeper), (Seal.Kind.CONTRACT, supplier_keeper)],
    )
    # The tendering office holds the buyer's 公章 too, but the contract asks for 合同专用章.
    buyer = scenario.organisation(
        tender_admin,
        BUYER,
        seals=[(Seal.Kind.OFFICIAL, tender_admin), (Seal.Kind.CONTRACT, tender_admin)],
        members=[office],
    )
    return World(office, supplier_rep, supplier_keeper, buyer_rep, tender_admin, supplier, buyer)


def _start(page: Any, w: World, pdf: Path, shots: scenario.Shots) -> Envelope:
    """The office: 切换身份 → 发起签署 → the four parties → the fields → 发起签署."""
    login_by_sms(page, w.office.phone)
    scenario.act_for(page, w.buyer)
    scenario.upload(page, pdf, TITLE)
    initiator = page.get_by_test_id("initiator").inner_text()
    assert BUYER in initiator and "企业" in initiator
    scenario.fill_recipients(
        page,
        [
            Row("sign", "张伟", w.supplier_rep.phone),
            Row("seal", SUPPLIER, w.supplier_keeper.phone, contact="李娜"),
            Row("sign", "赵强", w.buyer_rep.phone),
            Row("seal", BUYER, w.tender_admin.phone, contact="王磊", seal_kind="contract"),
        ],
    )
    shots(page, "office-recipients")
    envelope = Envelope.objects.get(initiator=w.office)
    scenario.open_editor(page, envelope)
    shots(page, "office-editor", screen=True)
    mouse = Pointer(page, touch=False)
    scenario.place_field(page, mouse, 0, "signature", 2, SPOTS["supplier_rep"])
    scenario.place_field(page, mouse, 1, "seal", 2, SPOTS["supplier_seal"])
    scenario.place_field(page, mouse, 1, "cross_page_seal", 1, SPOTS["cross_page"])
    assert page.locator(".ed-field.ed-f-cross_page_seal").count() == 3  # a strip on each page
    assert page.locator("[data-insp-pages] input:checked").count() == 3
    scenario.place_field(page, mouse, 2, "signature", 2, SPOTS["buyer_rep"])
    scenario.place_field(page, mouse, 3, "seal", 2, SPOTS["tender_seal"])
    scenario.point_on(page, page.get_by_test_id("editor-page").nth(2), 0.5, 0.7)
    shots(page, "office-fields", screen=True)
    scenario.save_fields(page, 5)
    _check_fields(envelope)
    scenario.send(page, envelope, 4, shots, "office-summary")
    shots(page, "office-sent")
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.IN_PROGRESS
    assert envelope.initiator_org == w.buyer
    return envelope


def _check_fields(envelope: Envelope) -> None:
    rep, supplier, buyer_rep, tender = envelope.recipients.order_by("routing_order")
    assert [r.role for r in (rep, supplier, buyer_rep, tender)] == ["sign", "seal", "sign", "seal"]
    assert tender.required_seal_kind == Seal.Kind.CONTRACT
    fields = {
        (f.recipient_id, f.kind): f for f in Field.objects.filter(envelope=envelope).order_by("id")
    }
    assert set(fields) == {
        (rep.pk, "signature"),
        (supplier.pk, "seal"),
        (supplier.pk, "cross_page_seal"),
        (buyer_rep.pk, "signature"),
        (tender.pk, "seal"),
    }
    scenario.assert_field_at(fields[rep.pk, "signature"], SPOTS["supplier_rep"])
    scenario.assert_field_at(fields[supplier.pk, "seal"], SPOTS["supplier_seal"])
    scenario.assert_field_at(fields[buyer_rep.pk, "signature"], SPOTS["buyer_rep"])
    scenario.assert_field_at(fields[tender.pk, "seal"], SPOTS["tender_seal"])
    assert all(fields[key].page == 2 for key in fields if key[1] != "cross_page_seal")
    assert fields[supplier.pk, "cross_page_seal"].pages == [0, 1, 2]


def _sign_in_turn(
    w: World, envelope: Envelope, new_context: Any, size: str, shots: scenario.Shots
) -> list[str]:
    """Each party in its own browser, in the routing order; only the party whose turn it is has
    been sent the link."""
    contract_seal = {
        SUPPLIER: scenario.seal_named(w.supplier, Seal.Kind.CONTRACT),
        BUYER: scenario.seal_named(w.buyer, Seal.Kind.CONTRACT),
    }
    parties: list[tuple[str, User, dict[str, Any], int, str]] = [
        ("supplier-rep", w.supplier_rep, {"saved": True}, 1, "已签署，等待下一位签署方"),
        ("supplier", w.supplier_keeper, {"seal": contract_seal[SUPPLIER]}, 4, "已盖章"),
        ("buyer-rep", w.buyer_rep, {"saved": True}, 1, "已签署，等待下一位签署方"),
        ("tender-office", w.tender_admin, {"seal": contract_seal[BUYER]}, 1, "全部签署完成"),
    ]
    errors: list[str] = []
    for index, (name, user, how, parts, title) in enumerate(parties):
        for _name, later, *_rest in parties[index + 1 :]:
            assert not OutboxMessage.objects.filter(
                recipient=later.phone, kind="envelope_sign_request"
            ).exists(), f"{later.display_name} was asked before their turn"
        scenario.warm_page_images(envelope)
        page = new_context(size).new_page()
        errors += scenario.watch(page)
        pointer = Pointer(page, touch=size == "phone")
        scenario.login_from_sms_link(page, user.phone, shots, name)
        scenario.open_document(page, pointer, envelope, shots, name)
        if index == 0:  # the others' places are shown, with their names
            names = page.locator(".sg-field.is-other").all_inner_texts()
            assert len(names) == 6  # the 骑缝章 has a strip on each of the 3 pages
            assert set(names) == {SUPPLIER, "赵强", BUYER}
        scenario.stamp(page, pointer, **how, shot=shots, name=name)
        assert scenario.all_mine_filled(page) == parts
        page.locator(".sg-field.is-mine.is-filled").last.scroll_into_view_if_needed()
        shots(page, f"{name}-stamped", screen=True)
        scenario.submit_with_pin(page, pointer, shots, name)
        assert title in page.get_by_test_id("sign-done-title").inner_text()
        shots(page, f"{name}-done")
        page.context.close()
    return errors


def test_procurement_contract_signed_by_four_parties(
    new_context: Any, shots: scenario.Shots, size: str, tmp_path: Path
) -> None:
    w = _world()
    pdf = tmp_path / "办公设备采购合同.pdf"
    pdf.write_bytes(make_test_pdf(pages=3))
    office = new_context("desktop").new_page()
    errors = scenario.watch(office)
    envelope = _start(office, w, pdf, shots)

    errors += _sign_in_turn(w, envelope, new_context, size, shots)

    rep, supplier, buyer_rep, tender = envelope.recipients.order_by("routing_order")
    assert {r.status for r in (rep, supplier, buyer_rep, tender)} == {Recipient.Status.DONE}
    assert supplier.seal == scenario.seal_named(w.supplier, Seal.Kind.CONTRACT)
    assert tender.seal == scenario.seal_named(w.buyer, Seal.Kind.CONTRACT)
    assert (rep.acted_by, supplier.acted_by) == (w.supplier_rep, w.supplier_keeper)
    assert (buyer_rep.acted_by, tender.acted_by) == (w.buyer_rep, w.tender_admin)

    # The office: 已完成 on the envelope page, then the downloads.
    scenario.wait_for_status(office, f"/envelopes/{envelope.uuid}/", "已完成")
    assert office.get_by_test_id("envelope-progress").inner_text() == "4/4"
    statuses = office.get_by_test_id("recipient").evaluate_all(
        "items => items.map(item => item.dataset.status)"
    )
    assert statuses == ["done"] * 4
    shots(office, "office-completed")
    name, data = scenario.download(office, "download-document")
    assert name.endswith(".pdf")
    report = scenario.check_final_pdf(data, tmp_path)
    _check_signers(report)
    shots.pdf_page(data, 0, "signed-contract-page-1")  # the first strip of the 骑缝章
    shots.pdf_page(data, 2, "signed-contract-page-3")  # the signature block

    name, data = scenario.download(office, "download-report")
    assert name.endswith(".pdf")
    summary = scenario.check_final_pdf(data, tmp_path, lta_validation=False)
    assert summary.signatures[0].kind == "certification"
    text = scenario.pdf_text(data, tmp_path)
    envelope.refresh_from_db()
    for expected in (envelope.number, "张伟", "赵强", SUPPLIER, BUYER):
        assert expected in text, expected
    downloads = AuditEvent.objects.filter(envelope=envelope, action="downloaded")
    assert downloads.filter(actor=w.office).count() == 2  # the file and the report
    assert errors == []


def _check_signers(report: Any) -> None:
    """One signature per person, the seals in the organisations' names, in the routing order;
    the platform's own signatures (preparation, completion lock) around them."""
    platform = ("QS-Certification", "QS-Completion")
    assert [s.field_name for s in report.signatures if s.field_name in platform] == list(platform)
    signed = [
        s for s in report.signatures if s.kind == "signature" and s.field_name not in platform
    ]
    people = [s.signer_name for s in signed if not s.organisation]
    assert people == ["张伟", "赵强"], [(s.signer_name, s.organisation) for s in signed]
    orgs = [s.organisation for s in signed if s.organisation]
    assert orgs == [SUPPLIER] * 2 + [BUYER], orgs  # the seal and the 骑缝章 (one signature)
    assert all("合同专用章" in s.signer_name for s in signed if s.organisation)
