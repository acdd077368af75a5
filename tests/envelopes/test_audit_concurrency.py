"""Audit chains under real concurrency (PostgreSQL): parallel events for one envelope, one
organisation and one user — including callers holding stale copies, the first event of a new
chain, and anchors made at the same time — keep one consistent chain each: count = rows,
numbers 1…n without gaps or duplicates, every MAC valid."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from qianshu.accounts.audit import ANONYMOUS, check_security_chain, record_event
from qianshu.accounts.models import SecurityEvent
from qianshu.core.meta import TASK
from qianshu.core.models import AuditAnchor, AuditChain
from qianshu.envelopes import audit
from qianshu.envelopes.actions import lifecycle
from qianshu.envelopes.audit_checks import anchor_findings
from qianshu.envelopes.models import Envelope
from qianshu.orgs.audit import chain_key, check_org_chain, record_org_event
from qianshu.orgs.models import OrgEvent
from qianshu.pki.actions import do_init_pki
from tests.envelopes.helpers import Builder
from tests.support.personas import make_signer, make_verified_org

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
EACH = 5


def _parallel(work: Callable[[int], None], threads: int = THREADS) -> None:
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(EACH):
                work(index)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in pool), "a writer hung"
    assert not errors, errors


def test_parallel_events_of_one_envelope_keep_one_chain() -> None:
    do_init_pki(name="测试平台")
    alice = make_signer("alice", "13710000001", real_name="王爱丽")
    envelope = Builder().draft(alice, [("sign", 1, alice)], pages=1)
    stale = Envelope.objects.get(pk=envelope.pk)

    def work(index: int) -> None:
        if index % 2:
            lifecycle.do_record_download(envelope, "report", actor=alice, meta=TASK)
        else:  # a caller that forgot to lock, with a copy that is stale at once
            with transaction.atomic():
                audit.record(Envelope.objects.get(pk=stale.pk), "viewed", step=str(index))

    before = envelope.events.count()
    _parallel(work)
    envelope.refresh_from_db()
    seqs = list(envelope.events.order_by("seq").values_list("seq", flat=True))
    assert len(seqs) == before + THREADS * EACH == envelope.audit_count
    assert seqs == list(range(1, len(seqs) + 1))
    assert audit.check_chain(envelope) is None


def test_parallel_events_of_one_organisation_and_one_user_keep_one_chain_each() -> None:
    do_init_pki(name="测试平台")
    alice = make_signer("alice", "13710000002", real_name="王爱丽")
    org = make_verified_org(alice)
    anchor_runs: list[int | None] = []

    def work(index: int) -> None:
        if index == 0:
            anchor_runs.append(audit.anchor_all())
        elif index % 3 == 1:
            with transaction.atomic():
                record_org_event(org, "seal_used", actor=alice, n=index)
        elif index % 3 == 2:
            record_event("reauth", user=alice, method="sms")
        else:
            record_event("login_failed", phone="0000")

    _parallel(work)
    chain = AuditChain.objects.get(key=chain_key(org.pk))
    assert chain.count == OrgEvent.objects.filter(org=org).count()
    assert check_org_chain(chain) == []
    for key in (f"user:{alice.pk}", ANONYMOUS):
        chain = AuditChain.objects.get(key=key)
        assert chain.count == SecurityEvent.objects.filter(chain=chain).count()
        assert check_security_chain(chain) == []
    assert len(anchor_runs) == EACH
    periodic = list(
        AuditAnchor.objects.filter(kind="periodic").order_by("seq").values_list("seq", flat=True)
    )
    assert periodic == list(range(1, len(periodic) + 1))
    assert anchor_findings(stale_after=dt.timedelta(hours=1)) == []


def test_the_first_events_of_new_chains_race_safely() -> None:
    do_init_pki(name="测试平台")
    alice = make_signer("alice", "13710000003", real_name="王爱丽")
    orgs = [make_verified_org(alice, name=f"并发{i}有限公司") for i in range(3)]

    def work(index: int) -> None:
        record_org_event(orgs[index % 3], "member_invited", actor=alice)

    _parallel(work, threads=6)
    for org in orgs:
        chain = AuditChain.objects.get(key=chain_key(org.pk))
        assert chain.count == 2 * EACH and check_org_chain(chain) == []


def test_appends_held_to_the_end_of_transactions_keep_each_chain_and_never_deadlock() -> None:
    """A signing step appends its organisation's events at its end (chains.appended_at_end):
    writers that hold events for two organisations, named in opposite orders, beside writers
    appending at once, lock the chains in one order and keep each chain whole."""
    from qianshu.core import chains

    do_init_pki(name="测试平台")
    alice = make_signer("alice", "13710000004", real_name="王爱丽")
    first, second = (make_verified_org(alice, name=f"并发用印{i}有限公司") for i in range(2))

    def work(index: int) -> None:
        if index % 3 == 2:
            record_org_event(first, "seal_used", actor=alice, n=index)
            return
        orgs = (first, second) if index % 3 else (second, first)
        with transaction.atomic(), chains.appended_at_end():
            for org in orgs:
                event = record_org_event(org, "seal_used", actor=alice, n=index)
                assert event.pk is None  # held: written when the block ends
            Envelope.objects.exists()  # the rest of the step, the chains not locked yet

    _parallel(work)
    for org in (first, second):
        chain = AuditChain.objects.get(key=chain_key(org.pk))
        events = OrgEvent.objects.filter(org=org).order_by("seq")
        assert chain.count == events.count() > 0
        assert list(events.values_list("seq", flat=True)) == list(range(1, chain.count + 1))
        assert check_org_chain(chain) == []
