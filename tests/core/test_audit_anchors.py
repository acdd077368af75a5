"""Periodic anchors: numbered, linked, time-stamped by the platform TSA; made by the envelope
timers once per interval; a deleted, reordered or altered anchor, a chain an anchor names that
is gone, and a long silence are reported by ``qianshu check-audit --anchors``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import models
from django.utils import timezone

from qianshu.core import anchors
from qianshu.core.models import AuditAnchor, AuditAnchorEntry, AuditChain
from qianshu.envelopes import audit, audit_checks, tasks
from qianshu.orgs.audit import chain_key, record_org_event
from qianshu.orgs.models import OrgAction
from qianshu.pki.actions import do_init_pki
from tests.support.accounts import make_user
from tests.support.audit import audit_findings
from tests.support.personas import make_verified_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(db: Any) -> Any:
    do_init_pki(name="测试平台")
    alice = make_user("alice")
    org = make_verified_org(alice)
    record_org_event(org, "seal_created", actor=alice)
    return org


def test_anchors_cover_what_moved_and_link_to_each_other(org: Any) -> None:
    assert audit.anchor_all() == 1
    first = anchors.last_periodic()
    assert first is not None and first.seq == 1 and first.prev_digest == ""
    assert anchors.entries_of(first) == [
        (chain_key(org.pk), 1, AuditChain.objects.get(key=chain_key(org.pk)).head)
    ]
    assert audit.anchor_all() == 0  # nothing moved: an empty anchor, still numbered
    record_org_event(org, "seal_destroyed", actor=None)
    assert audit.anchor_all() == 1
    third = anchors.last_periodic()
    assert third is not None and third.seq == 3
    assert third.prev_digest == AuditAnchor.objects.get(seq=2).digest
    assert anchors.check_anchor(third) is None
    assert audit_findings("--anchors") == ""


def test_the_timers_anchor_once_per_interval(org: Any, settings: Any) -> None:
    settings.QIANSHU_AUDIT_ANCHOR_SECONDS = 3600
    assert tasks.run_timers()["anchored"] == 1
    record_org_event(org, "seal_destroyed", actor=None)
    assert tasks.run_timers()["anchored"] == 0  # not due yet
    AuditAnchor.objects.update(created_at=timezone.now() - dt.timedelta(hours=2))
    assert tasks.run_timers()["anchored"] == 1
    assert AuditAnchor.objects.filter(kind="periodic").count() == 2


def test_deleted_altered_and_forged_anchors_are_reported(org: Any) -> None:
    for _ in range(3):
        record_org_event(org, "seal_used", actor=None)
        audit.anchor_all()
    AuditAnchor.objects.filter(seq=2).delete()
    assert "anchor #2 is missing" in audit_findings("--anchors")
    third = AuditAnchor.objects.get(seq=3)
    entry = AuditAnchorEntry.objects.get(anchor=third)
    AuditAnchorEntry.objects.filter(pk=entry.pk).update(count=99)
    assert "digest mismatch" in audit_findings("--anchors")
    AuditAnchorEntry.objects.filter(pk=entry.pk).update(count=entry.count)
    AuditAnchor.objects.filter(pk=third.pk).update(token_time=timezone.now())
    assert "recorded time differs" in audit_findings("--anchors")


def test_a_chain_that_vanished_after_its_anchor_is_reported(org: Any) -> None:
    audit.anchor_all()
    from qianshu.orgs.models import OrgEvent

    OrgEvent.objects.filter(org=org).delete()
    AuditChain.objects.filter(key=chain_key(org.pk)).delete()
    assert f"{chain_key(org.pk)}: an anchor covers this chain but it is gone" in audit_findings(
        "--anchors"
    )


def test_a_silent_anchor_job_is_a_warning(org: Any) -> None:
    audit.anchor_all()
    found = audit_checks.anchor_findings(stale_after=dt.timedelta(0))
    assert [f.warning for f in found] == [True]
    assert audit_findings("--anchors") == ""  # a warning does not fail the check


def test_many_moved_chains_are_spread_over_several_anchors(org: Any) -> None:
    for n in range(4):
        record_org_event(
            make_verified_org(make_user(f"u{n}", phone=f"1370000100{n}")),
            OrgAction.SEAL_USED,
            actor=None,
        )
    sources = [audit.ENVELOPE_SOURCE, anchors.CHAIN_SOURCE]
    assert anchors.anchor_heads(sources, limit=2) == 5
    periodic = AuditAnchor.objects.filter(kind="periodic").order_by("seq")
    assert [a.entries.count() for a in periodic] == [2, 2, 1]
    assert (
        not AuditChain.objects.exclude(key=anchors.ANCHORS)
        .exclude(anchored_count=models.F("count"))
        .exists()
    )
