"""What the envelope pages and the evidence report say (issue 12, walkthrough defect 8): event
kinds in words from one table, the void credited with its IP, a CC outside the order, counts
of 签名 and 盖章 in both languages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, TestCase
from django.urls import reverse

from qianshu.core.meta import TASK
from qianshu.envelopes import audit, reports
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.models import AuditEvent, Envelope
from qianshu.signing import reports as report_pdf
from tests.envelopes.helpers import Builder, client_for, sign
from tests.support.personas import seal_of

pytestmark = pytest.mark.django_db

SOURCE = Path(audit.__file__).parent
IP = "203.0.113.7"


def _send(envelope: Envelope) -> Envelope:
    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(envelope, actor=envelope.initiator, meta=TASK)
    envelope.refresh_from_db()
    return envelope


def _codes() -> set[str]:
    """Every stored code an event can carry in its kind, step or download."""
    return {
        *AuditEvent.Action.values,
        *audit.Step.values,
        *audit.Download.values,
    }


def _raw_codes(text: str) -> list[str]:
    words = set(re.findall(r"[A-Za-z_]+", text))
    return sorted(words & _codes())


def _completed_with_cc(people: dict, seal_org: Any, build: Builder) -> Envelope:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = seal_org(charlie, "厦门某某供应链有限公司")
    envelope = _send(
        build.draft(alice, [("sign", 1, bob), ("seal", 2, org), ("cc", 3, "cc@example.com")])
    )
    sign(envelope.recipients.get(role="sign"), bob)
    sign(envelope.recipients.get(role="seal"), charlie, seal=seal_of(org))
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    return envelope


def test_every_event_code_has_a_label_from_the_table() -> None:
    for choices in (AuditEvent.Action, audit.Step, audit.Download):
        for value, label in choices.choices:
            assert str(label) and str(label) != value, (choices, value)


def test_every_step_and_download_the_code_records_is_in_the_table() -> None:
    steps: set[str] = set()
    downloads: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        text = path.read_text()
        steps |= set(re.findall(r"\bstep=\"(\w+)\"", text))
        downloads |= set(re.findall(r"do_record_download\(\s*\w+,\s*\"(\w+)\"", text))
    assert steps and downloads
    assert steps <= set(audit.Step.values), steps - set(audit.Step.values)
    assert downloads <= set(audit.Download.values), downloads - set(audit.Download.values)


def test_an_unknown_code_is_never_shown_as_such() -> None:
    event = AuditEvent(action="some_new_kind", detail={"step": "raw_step", "what": "raw_what"})
    assert audit.event_label(event) == "其他操作"
    assert audit.event_details(event) == []


def test_the_evidence_report_shows_no_raw_code(people: dict, seal_org: Any, build: Builder) -> None:
    envelope = _completed_with_cc(people, seal_org, build)
    alice = people["alice"]
    client = client_for(alice)
    document = envelope.documents.get()
    assert client.get(reverse("envelopes:report", args=[envelope.uuid])).status_code == 200
    download = reverse("envelopes:download", args=[envelope.uuid, document.pk])
    assert client.get(download).status_code == 200
    content = reports.evidence_report(envelope)
    kinds = {e.action for e in envelope.events.all()}
    assert {"created", "sent", "signed", "sealed", "completed", "downloaded"} <= kinds
    for event in content.events:
        assert _raw_codes(f"{event.action} {event.detail}") == [], event
    # Certificate names with attribute names, not dotted OIDs.
    for party in content.parties:
        assert "2.5.4." not in party.certificate_subject + party.certificate_issuer, party
    assert any("serialNumber=" in p.certificate_subject for p in content.parties)
    assert any("organizationIdentifier=" in p.certificate_subject for p in content.parties)
    labels = [e.action for e in content.events]
    assert "创建（添加文件）" in labels and "完成（文件归档）" in labels
    assert "完成（签署任务）" in labels and "下载（签署报告）" in labels
    assert "下载（签署文件）" in labels
    # The stored report (rendered at completion) too, as a reader sees it.
    text = _pdf_text(envelope.report.read())  # type: ignore[union-attr]
    for code in ("document_added", "b_lta", "step"):
        assert code not in text
    assert "完成（文件归档）" in text
    # The rendered PDF of the report as it is now (with the downloads).
    pdf = report_pdf.render_evidence_report(content)
    assert "document_added" not in _pdf_text(pdf)


def _pdf_text(data: bytes) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    text = "".join(page.get_textpage().get_text_range() for page in pdf)
    return "".join(text.split())


def test_the_detail_page_audit_list_uses_the_same_labels(people: dict, build: Builder) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = _send(build.draft(alice, [("sign", 1, bob)]))
    page = client_for(alice).get(reverse("envelopes:detail", args=[envelope.uuid]))
    log = page.content.decode().split('data-testid="audit-log"')[1].split("</table>")[0]
    assert "创建（添加文件）" in log
    assert _raw_codes(re.sub(r"<[^>]+>", " ", log)) == []


def test_a_cc_has_no_order_and_shows_cc_status(people: dict, seal_org: Any, build: Builder) -> None:
    alice, bob = people["alice"], people["bob"]
    waiting = _send(build.draft(alice, [("sign", 1, bob), ("cc", 2, "cc@example.com")]))
    html = client_for(alice).get(reverse("envelopes:detail", args=[waiting.uuid])).content
    cc_row = _cc_row(html.decode())
    assert "env-order-cc" in cc_row and ">2<" not in cc_row
    assert "签署中" in cc_row and "未处理" not in cc_row

    envelope = _completed_with_cc(people, seal_org, build)
    html = client_for(alice).get(reverse("envelopes:detail", args=[envelope.uuid])).content
    cc_row = _cc_row(html.decode())
    assert "已抄送" in cc_row and "未处理" not in cc_row and ">3<" not in cc_row
    parties = reports.evidence_report(envelope).parties
    cc = next(p for p in parties if p.role == "抄送")
    assert cc.order == 0 and cc.status == "已抄送"
    assert [p.order for p in parties if p.role != "抄送"] == [1, 2]
    text = _pdf_text(envelope.report.read())  # type: ignore[union-attr]
    assert "抄送·外部" in text and "顺序3" not in text


def _cc_row(html: str) -> str:
    rows = html.split('data-testid="recipient"')[1:]
    found = [row.split("</li>")[0] for row in rows if "抄送" in row.split("</li>")[0]]
    assert len(found) == 1
    return found[0]


def test_the_void_events_carry_the_request_ip(people: dict, seal_org: Any, build: Any) -> None:
    envelope = _completed_with_cc(people, seal_org, build)
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    before = envelope.audit_count
    client = client_for(alice)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            reverse("envelopes:void", args=[envelope.uuid]),
            {"reason": "重复签署"},
            REMOTE_ADDR=IP,
            HTTP_USER_AGENT="Walkthrough/1.0",
        )
    assert response.status_code == 302
    statement = Envelope.objects.get(voids=envelope)
    by_alice = [
        *envelope.events.filter(seq__gt=before),
        *statement.events.filter(actor=alice),
    ]
    assert {e.action for e in by_alice} >= {"void_requested", "created", "sent"}
    for event in by_alice:
        assert (event.ip, event.user_agent) == (IP, "Walkthrough/1.0"), audit.event_label(event)
    org = envelope.recipients.get(role="seal").org
    sign(statement.recipients.get(role="sign"), bob)
    sign(statement.recipients.get(role="seal"), charlie, seal=seal_of(org))
    voided = envelope.events.get(action="voided")
    # The platform voids the original when the last party signed: not credited to alice with
    # no address.
    assert voided.actor_id is None and voided.actor_name == ""
    assert statement.number in " ".join(audit.event_details(voided))


def test_counts_of_signatures_and_seals_per_kind_in_both_languages(
    people: dict, build: Builder
) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = _send(build.draft(alice, [("sign", 1, bob)]))
    url = reverse("envelopes:sign", args=[envelope.uuid])
    chinese = _texts(client_for(bob), url)
    assert chinese["count-signature-one"] == chinese["count-signature-other"] == "已签名 {n} 处"
    assert chinese["count-seal-other"] == "已盖章 {n} 处"
    assert chinese["stamped"] == "{summary}，请检查后点击“提交签署”。"
    english_client = Client(headers={"accept-language": "en"})
    english_client.force_login(bob)
    english = _texts(english_client, url)
    assert english["count-signature-one"] == "Signed in {n} place"
    assert english["count-signature-other"] == "Signed in {n} places"
    assert english["count-seal-one"] == "Sealed in {n} place"
    assert english["count-seal-other"] == "Sealed in {n} places"
    assert english["count-filled-one"] == "Filled in {n} place"
    assert "places" not in english["count-filled-one"]


def _texts(client: Client, url: str) -> dict[str, str]:
    import html

    page = client.get(url).content.decode()
    block = page.split('id="sg-text"')[1].split("></div>")[0]
    return {k: html.unescape(v) for k, v in re.findall(r'data-([\w-]+)="([^"]*)"', block)}


def test_the_send_summary_gives_a_cc_no_order_number(people: dict, build: Builder) -> None:
    alice, bob = people["alice"], people["bob"]
    draft = build.draft(alice, [("sign", 1, bob), ("cc", 2, "cc@example.com")])
    html = client_for(alice).get(reverse("envelopes:send", args=[draft.uuid])).content.decode()
    rows = [r.split("</li>")[0] for r in html.split('data-testid="summary-recipient"')[1:]]
    cc = [r for r in rows if "抄送" in r]
    assert len(rows) == 2 and len(cc) == 1
    assert "order-no-cc" in cc[0] and ">2<" not in cc[0]
