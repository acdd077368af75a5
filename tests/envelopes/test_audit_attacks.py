"""Attacks on the envelope audit trail by someone with write access to the database but not
the master key (issue 10 item 4): deleting the tail, deleting or swapping events, rewriting an
event and re-linking the rest (plain SHA-256, or a MAC under a wrong key), moving the head,
changing the completion time-stamp or the stored report. Every one must show in
``check_chain``, ``qianshu check-audit`` (exit status 1) and on the envelope's page."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client, TestCase
from django.urls import reverse

from qianshu.core import chains
from qianshu.core.meta import TASK
from qianshu.core.models import AuditAnchor, AuditAnchorEntry
from qianshu.envelopes import audit, batch
from qianshu.envelopes.actions import batch as batch_actions
from qianshu.envelopes.actions import lifecycle
from qianshu.envelopes.actions import voiding as voiding_actions
from qianshu.envelopes.audit import check_chain
from qianshu.envelopes.models import AuditEvent, Envelope
from qianshu.pki.platform import load_platform
from qianshu.signing import timestamps
from qianshu.storage.actions import do_store_blob
from tests.envelopes.helpers import sign
from tests.support.audit import audit_findings, run_check_audit
from tests.support.personas import PIN, seal_of

pytestmark = pytest.mark.django_db

OTHER_MASTER_KEY = base64.urlsafe_b64encode(b"another-master-key-32-bytes-long").decode()


def _completed(people: dict, build: Any) -> Envelope:
    from tests.envelopes.test_lifecycle import _send

    alice, bob = people["alice"], people["bob"]
    envelope = _send(build.draft(alice, [("sign", 1, bob)]))
    sign(envelope.recipients.get(), bob)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    lifecycle.do_record_download(envelope, "report", actor=alice, meta=TASK)
    lifecycle.do_record_download(envelope, "report", actor=bob, meta=TASK)
    envelope.refresh_from_db()
    assert check_chain(envelope) is None
    assert audit_findings(envelope.number) == ""
    return envelope


def _events(envelope: Envelope) -> list[AuditEvent]:
    return list(envelope.events.order_by("seq"))


def _set_head(envelope: Envelope, count: int, head: str) -> None:
    """The attacker sets the envelope row to match what is left (QuerySet.update: no save())."""
    Envelope.objects.filter(pk=envelope.pk).update(audit_count=count, audit_head=head)


def _relink(
    envelope: Envelope, events: list[AuditEvent], start: int, mac: Callable[[AuditEvent, str], str]
) -> None:
    """Re-link events[start:] with the attacker's ``mac`` and move the head to the end."""
    prev = events[start - 1].mac
    for event in events[start:]:
        event.prev_mac, event.mac = prev, mac(event, prev)
        AuditEvent.objects.filter(pk=event.pk).update(
            ip=event.ip, detail=event.detail, prev_mac=event.prev_mac, mac=event.mac
        )
        prev = event.mac
    _set_head(envelope, events[-1].seq, prev)


def _plain_sha256(event: AuditEvent, prev: str) -> str:
    content = {**audit.event_content(event), "seq": event.seq, "prev": prev}
    return hashlib.sha256(chains.canonical(content)).hexdigest()


def _first_break(envelope: Envelope) -> int:
    found = check_chain(envelope)
    assert found is not None
    return found.seq


def test_deleting_the_last_events_of_a_completed_envelope_is_detected(
    people: dict, build: Any
) -> None:
    envelope = _completed(people, build)
    events = _events(envelope)
    AuditEvent.objects.filter(pk__in=[e.pk for e in events[-2:]]).delete()
    assert _first_break(envelope) == events[-2].seq
    assert f"event {events[-2].seq}" in audit_findings(envelope.number)


def test_tail_deleted_and_head_moved_back_shows_against_the_completion_time_stamp(
    people: dict, build: Any
) -> None:
    """Every MAC left is valid and the row agrees with them: only the time-stamped head (and
    the report) still know the completion event and the events before it."""
    envelope = _completed(people, build)
    events = _events(envelope)
    completion = audit.completion_event(envelope)
    assert completion is not None
    keep = [e for e in events if e.seq < completion.seq - 1]
    AuditEvent.objects.filter(envelope=envelope, seq__gte=completion.seq - 1).delete()
    _set_head(envelope, keep[-1].seq, keep[-1].mac)
    problems = audit.check_envelope(envelope)
    assert problems and problems[0].seq == completion.seq - 1
    assert any("completion time-stamp" in p.reason for p in problems)
    assert any(
        "stored evidence report" in line for line in audit_findings(envelope.number).splitlines()
    )


def test_tail_after_completion_deleted_shows_against_the_periodic_anchor(
    people: dict, build: Any
) -> None:
    """Downloads after completion are covered by the next periodic anchor."""
    envelope = _completed(people, build)
    assert audit.anchor_all() is not None
    events = _events(envelope)
    AuditEvent.objects.filter(pk=events[-1].pk).delete()
    _set_head(envelope, events[-2].seq, events[-2].mac)
    found = check_chain(envelope)
    assert found is not None and found.seq == events[-1].seq and "anchor #1" in found.reason
    assert "anchor #1" in audit_findings(envelope.number)


def test_a_deleted_middle_event_is_detected(people: dict, build: Any) -> None:
    envelope = _completed(people, build)
    events = _events(envelope)
    AuditEvent.objects.filter(pk=events[3].pk).delete()
    assert _first_break(envelope) == events[3].seq
    assert f"event {events[3].seq} missing" in audit_findings(envelope.number)


def test_an_edited_event_rehashed_with_plain_sha256_to_the_end_is_detected(
    people: dict, build: Any
) -> None:
    envelope = _completed(people, build)
    events = _events(envelope)
    events[2].ip = "10.6.6.6"
    _relink(envelope, events, 2, _plain_sha256)
    assert _first_break(envelope) == events[2].seq
    assert f"event {events[2].seq} was altered" in audit_findings(envelope.number)


def test_an_edited_event_re_maced_under_a_wrong_key_is_detected(
    people: dict, build: Any, settings: Any
) -> None:
    envelope = _completed(people, build)
    events = _events(envelope)
    events[4].detail = {**events[4].detail, "reason": "改写"}
    ours = settings.MASTER_KEY
    settings.MASTER_KEY = OTHER_MASTER_KEY

    def wrong_key(event: AuditEvent, prev: str) -> str:
        content = audit.event_content(event)
        return chains.event_mac(chains.KEY_ID, audit.chain_id(envelope), event.seq, prev, content)

    _relink(envelope, events, 4, wrong_key)
    settings.MASTER_KEY = ours
    assert _first_break(envelope) == events[4].seq
    assert audit_findings(envelope.number)


def test_two_swapped_events_are_detected(people: dict, build: Any) -> None:
    envelope = _completed(people, build)
    first, second = _events(envelope)[2:4]
    AuditEvent.objects.filter(pk=first.pk).update(seq=1000)
    AuditEvent.objects.filter(pk=second.pk).update(seq=first.seq)
    AuditEvent.objects.filter(pk=first.pk).update(seq=second.seq)
    assert _first_break(envelope) == first.seq
    assert audit_findings(envelope.number)


def test_a_changed_head_or_count_on_the_envelope_row_is_detected(people: dict, build: Any) -> None:
    envelope = _completed(people, build)
    events = _events(envelope)
    _set_head(envelope, events[-1].seq, "f" * 64)
    assert "differs from the head held by the envelope row" in audit_findings(envelope.number)
    _set_head(envelope, events[-1].seq + 3, events[-1].mac)
    assert f"event {events[-1].seq + 1}" in audit_findings(envelope.number)


def test_a_changed_completion_time_stamp_is_detected(people: dict, build: Any) -> None:
    envelope = _completed(people, build)
    entry = AuditAnchorEntry.objects.get(chain=audit.chain_id(envelope))
    AuditAnchorEntry.objects.filter(pk=entry.pk).update(head="e" * 64)
    out = audit_findings(envelope.number)
    assert "entries were changed" in out and f"event {entry.count} differs" in out
    AuditAnchorEntry.objects.filter(pk=entry.pk).update(head=entry.head)
    assert audit_findings(envelope.number) == ""
    # A genuine token of our TSA, but over something else, put in its place.
    forged = timestamps.stamp_digest(load_platform().tsa, hashlib.sha256(b"other").digest())
    AuditAnchor.objects.filter(pk=entry.anchor_id).update(token=forged)
    assert "token is not valid" in audit_findings(envelope.number)
    # The completion anchor deleted altogether.
    AuditAnchor.objects.filter(pk=entry.anchor_id).delete()
    assert "completion time-stamp over event" in audit_findings(envelope.number)


def test_a_replaced_stored_report_is_detected(people: dict, build: Any) -> None:
    envelope = _completed(people, build)
    other = _completed(people, build)
    Envelope.objects.filter(pk=envelope.pk).update(report=other.report)
    out = audit_findings(envelope.number)
    assert "stored evidence report" in out
    plain = do_store_blob(b"%PDF-1.7 not a report", content_type="application/pdf")
    Envelope.objects.filter(pk=envelope.pk).update(report=plain)
    assert "stored evidence report" in audit_findings(envelope.number)


def test_the_report_prints_and_embeds_head_count_and_token(people: dict, build: Any) -> None:
    from qianshu.envelopes.reports import AUDIT_ATTACHMENT, parse_audit_attachment
    from qianshu.signing.reports import read_attachment

    envelope = _completed(people, build)
    data = envelope.report.read()  # type: ignore[union-attr]
    content = parse_audit_attachment(read_attachment(data, AUDIT_ATTACHMENT) or b"")
    completion = audit.completion_event(envelope)
    assert completion is not None
    assert content["count"] == completion.seq and content["head"] == completion.mac
    anchor = AuditAnchor.objects.get(kind="completion", entries__chain=audit.chain_id(envelope))
    assert base64.b64decode(content["anchor"]["token"]) == bytes(anchor.token)
    text = _pdf_text(data)
    assert completion.mac in text and "时间戳" in text


def _pdf_text(data: bytes) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    text = "".join(page.get_textpage().get_text_range() for page in pdf)
    return "".join(text.split())


def test_a_kept_report_shows_what_the_database_lost(
    people: dict, build: Any, tmp_path: Any
) -> None:
    """The operator's worst case short of the master key: tail deleted, head moved back, the
    completion anchor and the stored report removed. The report a party kept still tells."""
    envelope = _completed(people, build)
    kept = tmp_path / "report.pdf"
    kept.write_bytes(envelope.report.read())  # type: ignore[union-attr]
    assert f"matches the audit trail of {envelope.number}" in _report_check(kept)[1]
    completion = audit.completion_event(envelope)
    assert completion is not None
    AuditEvent.objects.filter(envelope=envelope, seq__gte=completion.seq).delete()
    last = envelope.events.order_by("-seq").first()
    assert last is not None
    _set_head(envelope, last.seq, last.mac)
    AuditAnchor.objects.filter(entries__chain=audit.chain_id(envelope)).delete()
    Envelope.objects.filter(pk=envelope.pk).update(report=None)
    code, out = _report_check(kept)
    assert code == 1 and f"the report {kept} counts {completion.seq} events" in out
    # A changed byte in the kept report: its platform signature fails.
    data = bytearray(kept.read_bytes())
    index = data.find(b"/Title")
    data[index + 8] ^= 0x01
    kept.write_bytes(bytes(data))
    code, out = _report_check(kept)
    assert code == 1 and "signature is not valid" in out


def _report_check(path: Any) -> tuple[int, str]:
    return run_check_audit("--report", str(path))


def test_the_envelope_page_shows_the_verdict(people: dict, build: Any) -> None:
    envelope = _completed(people, build)
    client = Client()
    client.force_login(people["alice"])
    page = client.get(envelope.get_absolute_url()).content.decode()
    assert 'data-intact="true"' in page
    events = _events(envelope)
    AuditEvent.objects.filter(pk=events[5].pk).update(actor_name="别人")
    page = client.get(envelope.get_absolute_url()).content.decode()
    assert 'data-intact="false"' in page and f"自第 {events[5].seq} 条记录起" in page


def test_a_stale_copy_of_the_envelope_cannot_move_the_head_back(people: dict, build: Any) -> None:
    """Neither a full save() of an old copy nor a record() through it loses an event."""
    envelope = _completed(people, build)
    stale = Envelope.objects.get(pk=envelope.pk)
    lifecycle.do_record_download(envelope, "report", actor=people["alice"], meta=TASK)
    stale.title = "改名"
    stale.save()
    audit.record(stale, "downloaded", what="report")
    assert check_chain(envelope) is None
    seqs = [e.seq for e in _events(envelope)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert Envelope.objects.get(pk=envelope.pk).audit_count == len(seqs)


def test_raw_sql_tampering_is_detected(people: dict, build: Any) -> None:
    envelope = _completed(people, build)
    event = _events(envelope)[1]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE envelopes_auditevent SET action = %s WHERE id = %s", ["recalled", event.pk]
        )
    assert _first_break(envelope) == event.seq


def test_normal_flows_keep_every_trail_intact(people: dict, build: Any, seal_org: Any) -> None:
    """Compose, send, sign, seal, batch sign, complete, download over HTTP, void, anchor: every
    envelope, organisation and security trail and every anchor checks intact."""
    from tests.envelopes.test_lifecycle import _send

    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = seal_org(charlie, "厦门某某供应链有限公司")
    envelope = _send(build.draft(alice, [("sign", 1, bob), ("seal", 2, org)], documents=2))
    sign(envelope.recipients.get(role="sign"), bob)
    sign(envelope.recipients.get(role="seal"), charlie, seal=seal_of(org))
    others = [_send(build.draft(alice, [("sign", 1, bob)])) for _ in range(2)]
    with TestCase.captureOnCommitCallbacks(execute=True):
        results = batch_actions.do_batch_sign(
            batch.pending_items(bob), pin=PIN, actor=bob, meta=TASK
        )
    assert len(results) == 2 and all(r.ok for r in results)
    client = Client()
    client.force_login(alice)
    document = envelope.documents.first()
    assert document is not None
    url = reverse("envelopes:download", args=[envelope.uuid, document.pk])
    assert client.get(url).status_code == 200
    envelope.refresh_from_db()
    with TestCase.captureOnCommitCallbacks(execute=True):
        statement = voiding_actions.do_request_void(envelope, "重复签署", actor=alice, meta=TASK)
    sign(statement.recipients.get(role="sign"), bob)
    sign(statement.recipients.get(role="seal"), charlie, seal=seal_of(org))
    assert Envelope.objects.get(pk=envelope.pk).status == Envelope.Status.VOIDED
    assert audit.anchor_all() is not None
    for item in (envelope, statement, *others):
        assert check_chain(item) is None
    assert audit_findings() == ""


def test_check_audit_refuses_bad_input_with_a_message(db: Any, tmp_path: Any) -> None:
    from qianshu.pki.actions import do_init_pki

    do_init_pki(name="测试平台")
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.7\n" + b"\x00" * 100)
    code, out = run_check_audit("--report", str(garbage))
    assert code == 1 and "signature is not valid" in out
    code, _ = run_check_audit("--report", str(tmp_path / "missing.pdf"))
    assert code == 2
    code, _ = run_check_audit("QS-NO-SUCH")
    assert code == 2


def test_a_kept_report_with_a_rewritten_attachment_fails_its_signature(
    people: dict, build: Any, tmp_path: Any
) -> None:
    """Someone edits the report's qianshu-audit.json in an incremental update (the way PDF
    editors save) to match a shortened chain: the platform's certification no longer holds."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from qianshu.envelopes.reports import AUDIT_ATTACHMENT
    from qianshu.signing.reports import read_attachment

    envelope = _completed(people, build)
    data = envelope.report.read()  # type: ignore[union-attr]
    content = json.loads(read_attachment(data, AUDIT_ATTACHMENT) or b"")
    content["count"] -= 2
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    spec = writer.root["/Names"]["/EmbeddedFiles"]["/Names"][1].get_object()
    files = spec["/EF"]
    stream = generic.StreamObject(
        {generic.NameObject("/Type"): generic.NameObject("/EmbeddedFile")},
        stream_data=json.dumps(content).encode(),
    )
    files[generic.NameObject("/F")] = writer.add_object(stream)
    writer.update_container(files)
    out = io.BytesIO()
    writer.write(out)
    kept = tmp_path / "edited.pdf"
    kept.write_bytes(out.getvalue())
    code, found = run_check_audit("--report", str(kept))
    assert code == 1 and "signature is not valid" in found
