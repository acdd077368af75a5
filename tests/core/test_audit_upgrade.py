"""The migrations that upgrade existing audit trails to keyed MACs: an intact SHA-256 chain is
verified and re-chained (key id ``m1u``) with its head on the envelope; a chain that was
already broken stays reported as broken; organisation and security events, never chained
before, get one chain per organisation / user (and one anonymous). Runs the real migrations
from the schema before the upgrade (SQLite here, PostgreSQL in CI)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from qianshu.accounts.audit import ANONYMOUS, check_security_chain, record_event
from qianshu.core.models import AuditChain
from qianshu.envelopes import audit
from qianshu.envelopes.models import AuditEvent, Envelope
from qianshu.orgs.audit import check_org_chain
from qianshu.orgs.models import Organization

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("core", None),
    ("accounts", "0001_initial"),
    ("orgs", "0001_initial"),
    ("envelopes", "0001_initial"),
]


def _old_hash(values: dict[str, Any], envelope_uuid: uuid.UUID, prev: str) -> str:
    """The hash the trail had before keyed MACs (what the old code wrote)."""
    created = values["created_at"].astimezone(dt.UTC)
    content = {
        "envelope": str(envelope_uuid),
        "seq": values["seq"],
        "action": values["action"],
        "actor": values["actor_id"],
        "actor_name": values.get("actor_name", ""),
        "recipient": None,
        "time": created.isoformat(timespec="microseconds"),
        "ip": values.get("ip") or "",
        "user_agent": "",
        "document": "",
        "before": "",
        "after": "",
        "detail": values["detail"],
        "prev": prev,
    }
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _old_trail(apps: Any, user: Any, number: str, *, tamper: bool) -> Any:
    envelope = apps.get_model("envelopes", "Envelope").objects.create(
        number=number, title="旧任务", initiator=user, status="completed"
    )
    prev = "0" * 64
    start = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
    for seq in range(1, 5):
        values = {
            "seq": seq,
            "action": "created" if seq == 1 else "viewed",
            "actor_id": user.pk,
            "actor_name": "王爱丽",
            "created_at": start + dt.timedelta(minutes=seq),
            "ip": "10.0.0.1",
            "detail": {"n": seq},
        }
        digest = _old_hash(values, envelope.uuid, prev)
        apps.get_model("envelopes", "AuditEvent").objects.create(
            envelope=envelope, prev_hash=prev, hash=digest, **values
        )
        prev = digest
    if tamper:  # someone edited event 3 before the upgrade
        apps.get_model("envelopes", "AuditEvent").objects.filter(envelope=envelope, seq=3).update(
            ip="10.6.6.6"
        )
    return envelope


def test_existing_trails_are_verified_then_upgraded() -> None:
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    apps = executor.loader.project_state([t for t in BEFORE if t[1]]).apps
    user = apps.get_model("accounts", "User").objects.create(phone="13800000001", password="!")
    _old_trail(apps, user, "QS-OLD-INTACT", tamper=False)
    _old_trail(apps, user, "QS-OLD-BROKEN", tamper=True)
    org = apps.get_model("orgs", "Organization").objects.create(
        kind="enterprise", name="旧组织", legal_rep_name="王爱丽", created_by=user
    )
    for action in ("org_created", "member_invited", "seal_created"):
        apps.get_model("orgs", "OrgEvent").objects.create(org=org, actor=user, action=action)
    security = apps.get_model("accounts", "SecurityEvent")
    security.objects.create(user=user, action="login", detail={"method": "sms"})
    security.objects.create(action="login_failed", detail={"phone": "2222"})

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest)

    intact = Envelope.objects.get(number="QS-OLD-INTACT")
    assert audit.check_chain(intact) is None
    assert intact.audit_count == 4
    assert set(AuditEvent.objects.filter(envelope=intact).values_list("key_id", flat=True)) == {
        "m1u"
    }
    broken = Envelope.objects.get(number="QS-OLD-BROKEN")
    problem = audit.check_chain(broken)
    assert problem is not None and "already broken when it was upgraded" in problem.reason
    # New events continue both chains; the broken one stays broken.
    audit.record(intact, "downloaded", what="report")
    audit.record(broken, "downloaded", what="report")
    assert audit.check_chain(Envelope.objects.get(pk=intact.pk)) is None
    assert audit.check_chain(Envelope.objects.get(pk=broken.pk)) is not None
    # An edit of an upgraded event is caught like any other.
    AuditEvent.objects.filter(envelope=intact, seq=2).update(ip="10.9.9.9")
    found = audit.check_chain(intact)
    assert found is not None and found.seq == 2

    new_org = Organization.objects.get(name="旧组织")
    chain = AuditChain.objects.get(key=f"org:{new_org.pk}")
    assert chain.count == 3 and check_org_chain(chain) == []
    record_event("logout", user=new_org.created_by)
    for key in (f"user:{new_org.created_by_id}", ANONYMOUS):
        assert check_security_chain(AuditChain.objects.get(key=key)) == []
    assert AuditChain.objects.get(key=f"user:{new_org.created_by_id}").count == 2
