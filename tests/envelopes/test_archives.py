"""Archive renewal of completed documents (归档续期): the command, the timers, the records."""

from __future__ import annotations

import datetime as dt
import io
import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from qianshu.core.meta import TASK
from qianshu.envelopes import tasks
from qianshu.envelopes.actions import archives
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.audit import check_chain
from qianshu.envelopes.models import AuditEvent, Document, Envelope, Revision
from qianshu.pki.actions import do_init_pki
from qianshu.pki.platform import load_platform
from qianshu.signing import archive
from qianshu.signing.verify import verify_pdf
from qianshu.storage.actions import do_store_blob
from tests.envelopes.helpers import Builder, sign
from tests.support.personas import make_signer


def _completed(build: Any, alice: Any, bob: Any) -> Document:
    envelope = build.draft(alice, [("sign", 1, bob)], pages=1)
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    sign(envelope.recipients.get(), bob)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    return envelope.documents.get()


def _age(document: Document, *, days_left: int = 10, algorithms: str = "") -> None:
    """Make the stored archive state say the newest time-stamp is about to run out (or uses
    ``algorithms``), as it would years after completion."""
    document.refresh_from_db()
    changes: dict[str, Any] = {"archive_expires_at": timezone.now() + dt.timedelta(days=days_left)}
    if algorithms:
        changes["archive_algorithms"] = algorithms
    Document.objects.filter(pk=document.pk).update(**changes)


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("renew_archives", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_nothing_is_due_after_completion(people: dict, build: Any) -> None:
    document = _completed(build, people["alice"], people["bob"])
    assert "0 due, 0 renewed" in _run()
    document.refresh_from_db()
    info = archive.archive_info(document.current.read())
    assert info is not None and document.archive_expires_at == info.tsa_not_after
    assert document.archive_algorithms == ",ec-p256,sha256,"


@pytest.mark.django_db
def test_a_due_document_is_renewed_once_with_a_revision_and_an_audit_event(
    people: dict, build: Any
) -> None:
    document = _completed(build, people["alice"], people["bob"])
    _run()  # reads the new document
    _age(document)
    before = document.current_id
    revisions = Revision.objects.filter(document=document).count()
    assert f"due      document {document.pk}" in _run("--dry-run")
    document.refresh_from_db()
    assert document.current_id == before  # a dry run changes nothing
    out = _run()
    assert f"renewed  document {document.pk}" in out and "1 renewed" in out
    document.refresh_from_db()
    assert Revision.objects.filter(document=document).count() == revisions + 1
    assert document.revisions.order_by("-number").first().action == "renewed"  # type: ignore[union-attr]
    data = document.current.read()
    assert data.startswith(Revision.objects.get(document=document, blob_id=before).blob.read())
    event = AuditEvent.objects.filter(envelope=document.envelope).order_by("-seq").first()
    assert event is not None and event.action == "archive_renewed"
    assert (event.sha256_before, event.sha256_after) == (before, document.current_id)
    assert check_chain(document.envelope) is None
    report = verify_pdf(data, load_platform().trust())
    assert report.verdict == "valid", report.reason
    stamps = [s.field_name for s in report.signatures if s.kind == "document_timestamp"]
    assert stamps == ["QS-DocTimeStamp", "QS-DocTimeStamp-2"]
    # Renewed: no longer due.
    assert "0 due" in _run()


@pytest.mark.django_db
def test_a_weakening_algorithm_makes_a_document_due(people: dict, build: Any) -> None:
    document = _completed(build, people["alice"], people["bob"])
    _run()
    _age(document, days_left=3000, algorithms=",sha1,rsa-1024,")
    assert "1 renewed" in _run()
    document.refresh_from_db()
    assert document.archive_algorithms == ",ec-p256,sha256,"


@pytest.mark.django_db
def test_renewal_refuses_when_it_would_not_help(people: dict, build: Any) -> None:
    document = _completed(build, people["alice"], people["bob"])
    _run()
    _age(document)
    current = Document.objects.get(pk=document.pk).current_id
    # The platform's own TSA certificate lies inside a 20-year window ...
    with pytest.raises(CommandError, match="TSA certificate expires within"):
        _run("--within", str(365 * 20))
    # ... or its own key is on the weakening list: renewing would loop.
    with override_settings(QIANSHU_ARCHIVE_WEAK_ALGORITHMS=["ec-p256"]):
        with pytest.raises(CommandError, match="weakening"):
            _run()
    assert Document.objects.get(pk=document.pk).current_id == current
    with pytest.raises(CommandError):
        _run("--within", "-1")


@pytest.mark.django_db
def test_the_timers_renew_due_archives(people: dict, build: Any) -> None:
    document = _completed(build, people["alice"], people["bob"])
    assert tasks.run_timers()["renewed"] == 0
    _age(document)
    assert tasks.run_timers()["renewed"] == 1
    assert tasks.run_timers()["renewed"] == 0


@pytest.mark.django_db
def test_an_unreadable_document_is_logged_and_left_alone(
    people: dict, build: Any, caplog: pytest.LogCaptureFixture
) -> None:
    document = _completed(build, people["alice"], people["bob"])
    garbage = do_store_blob(b"%PDF-1.7 this is not a PDF", content_type="application/pdf")
    Document.objects.filter(pk=document.pk).update(current=garbage, archive_algorithms="")
    summary = archives.do_renew_due_archives(meta=TASK)
    assert summary.inspected == 1 and summary.due == []
    document.refresh_from_db()
    assert document.archive_algorithms == archives.UNREADABLE
    assert "cannot read the time-stamps" in caplog.text
    assert archives.do_renew_due_archives(meta=TASK).inspected == 0  # read once, not on every run


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_renewals_at_once_renew_a_document_once() -> None:
    do_init_pki(name="测试平台")
    alice, bob = make_signer("alice"), make_signer("bob")
    document = _completed(Builder(), alice, bob)
    archives.inspect_unread()
    _age(document)
    revisions = Revision.objects.filter(document=document).count()
    barrier = threading.Barrier(2)
    results: list[bool] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(archives.do_renew_document_archive(document.pk, meta=TASK))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(results) == [False, True]
    assert Revision.objects.filter(document=document).count() == revisions + 1
    events = AuditEvent.objects.filter(envelope=document.envelope, action="archive_renewed")
    assert events.count() == 1
