"""Revisions under real concurrency (PostgreSQL): parallel signers of one step never lose a
signature, and a signing process killed half-way leaves a consistent envelope."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from qianshu.core.meta import TASK
from qianshu.envelopes import compose
from qianshu.envelopes.actions import batch as batch_actions
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.models import Envelope, Recipient, Revision
from qianshu.pki.actions import do_init_pki
from qianshu.pki.platform import load_platform
from qianshu.signing.verify import verify_pdf
from tests.envelopes.helpers import Builder, sign
from tests.support.personas import make_signer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _signers(count: int) -> list[Any]:
    return [
        make_signer(f"signer{i}", f"1371000{i:04d}", real_name=f"签署人{i:02d}")
        for i in range(count)
    ]


def test_eight_parallel_signers_of_one_step_all_count() -> None:
    do_init_pki(name="测试平台")
    initiator, *signers = _signers(9)
    envelope = Builder().draft(initiator, [("sign", 1, s) for s in signers], pages=1)
    compose_actions.do_send_envelope(envelope, actor=initiator, meta=TASK)
    recipients = {r.phone: r for r in envelope.recipients.all()}
    barrier = threading.Barrier(len(signers))
    errors: list[BaseException] = []

    def run(user: Any) -> None:
        try:
            barrier.wait(timeout=30)
            sign(recipients[user.phone], user)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(user,)) for user in signers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    document = envelope.documents.get()
    # upload, prepared, 8 signing turns (one after the other), finished
    assert Revision.objects.filter(document=document).count() == 1 + 1 + 8 + 1
    report = verify_pdf(document.current.read(), load_platform().trust())
    assert report.verdict == "valid", report.reason
    people = [s for s in report.signatures if s.field_name.startswith("QS-F")]
    # each signer has a signature field and a date field
    assert len(people) == 16
    assert all(s.intact and s.valid and s.trusted for s in report.signatures)


_CHILD = """
import os, sys, uuid
import django
django.setup()
from qianshu.envelopes.models import Recipient
from qianshu.envelopes import turns
from qianshu.envelopes.actions import turns as turns_actions
from qianshu.core.meta import TASK
from tests.envelopes.helpers import all_fields, seen
from tests.support.personas import PIN
recipient = Recipient.objects.get(pk=int(sys.argv[1]))
from qianshu.accounts.models import User
user = recipient.user or User.objects.get(phone=recipient.phone)
request = turns.SignRequest(
    key=uuid.uuid4().hex, seen=seen(recipient.envelope), fields=all_fields(recipient)
)
print("signing", flush=True)
turns_actions.do_sign(recipient, request, pin=PIN, actor=user, meta=TASK)
print("signed", flush=True)
"""


def _child_env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env["QIANSHU_STORAGE"] = "local"
    env["QIANSHU_STORAGE_DIR"] = str(settings.QIANSHU_STORAGE_DIR)
    env["PYTHONPATH"] = f"{ROOT}:{ROOT / 'src'}"
    return env


def _wait_for_signing_lock(timeout: float) -> bool:
    """Whether another backend took a row lock on envelopes_envelope (SELECT … FOR UPDATE holds
    a RowShareLock on the table until its transaction ends) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON l.relation = c.oid "
                "WHERE c.relname = 'envelopes_envelope' AND l.mode = 'RowShareLock' "
                "AND l.pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.005)
    return False


def test_a_signing_process_killed_half_way_leaves_a_consistent_envelope() -> None:
    do_init_pki(name="测试平台")
    initiator, signer = _signers(2)
    draft = Builder().draft(initiator, [("sign", 1, signer)], pages=2, fields=False)
    recipient = draft.recipients.get()
    document = draft.documents.get()
    # Many fields make the signing turn long enough to be killed in the middle of it.
    items = [
        compose.FieldInput(
            recipient.pk, document.pk, "signature", page, compose.stamps.Rect(x, y, x + 60, y + 30)
        )
        for page in range(2)
        for x in (40, 190, 340)
        for y in (60, 260, 460, 660)
    ]
    compose_actions.do_set_fields(draft, items, actor=initiator)
    compose_actions.do_send_envelope(draft, actor=initiator, meta=TASK)
    before = document.revision + 1  # prepared
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(recipient.pk)],
        env=_child_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == "signing", process.stderr.read() if process.stderr else ""
    # Kill it once it holds the envelope's row lock, i.e. inside the signing transaction,
    # with the 24 signatures of the turn still to make.
    assert _wait_for_signing_lock(timeout=30), "the child never started its signing transaction"
    killed = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    document.refresh_from_db()
    recipient.refresh_from_db()
    if killed:
        # Nothing of the unfinished turn is visible: same revision, recipient still to sign.
        assert document.revision == before
        assert recipient.status == Recipient.Status.PENDING
        assert not Revision.objects.filter(document=document, number=before + 1).exists()
        assert verify_pdf(document.current.read(), load_platform().trust()).verdict == "valid"
        # … and the recipient can sign again.
        sign(recipient, signer, key=uuid.uuid4().hex)
    envelope = Envelope.objects.get(pk=draft.pk)
    assert envelope.status == Envelope.Status.COMPLETED
    report = verify_pdf(envelope.documents.get().current.read(), load_platform().trust())
    assert report.verdict == "valid", report.reason
    assert killed, "the signing process finished before it could be killed"


def test_a_large_batch_is_signed_by_several_processes(settings: Any) -> None:
    """批量签署 over two forked processes: every task signed once, every document valid."""
    from qianshu.envelopes import batch
    from qianshu.envelopes.audit import check_chain
    from tests.support.personas import PIN

    settings.QIANSHU_BATCH_PROCESSES = 2
    do_init_pki(name="测试平台")
    initiator, signer = _signers(2)
    envelopes = []
    for _ in range(2 * batch_actions.MIN_ITEMS_PER_PROCESS):
        envelope = Builder().draft(initiator, [("sign", 1, signer), ("sign", 2, initiator)])
        compose_actions.do_send_envelope(envelope, actor=initiator, meta=TASK)
        envelopes.append(envelope)
    items = batch.pending_items(signer)
    assert len(items) == len(envelopes) and batch_actions.processes_for(len(items)) == 2
    results = batch_actions.do_batch_sign(items, pin=PIN, actor=signer, meta=TASK)
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    # A resubmission of the same batch (same keys) signs nothing again.
    again = batch_actions.do_batch_sign(items, pin=PIN, actor=signer, meta=TASK)
    assert all(r.ok and r.repeated for r in again)
    trust = load_platform().trust()
    for envelope in envelopes:
        document = envelope.documents.get()
        assert document.revision == 2  # prepared + one signing turn
        assert verify_pdf(document.current.read(), trust).verdict == "valid"
        assert envelope.recipients.get(routing_order=1).status == Recipient.Status.DONE
        assert check_chain(envelope) is None
