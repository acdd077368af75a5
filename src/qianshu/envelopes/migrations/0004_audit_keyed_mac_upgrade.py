"""Upgrade existing envelope audit trails from the plain SHA-256 chain to the keyed MAC.

Each trail's old chain is verified first. An intact trail is re-chained with the keyed MAC
(key id ``m1u``: MACed at the upgrade) and its envelope gets count and head. A trail that was
already broken is not blessed: its events keep their old hashes under the key id ``sha256``,
which ``check-audit`` always reports as broken, and the migration prints it.
"""

import datetime as dt
import hashlib
import json
from typing import Any

from django.db import migrations

GENESIS = "0" * 64


def _legacy_hash(event: Any, envelope_uuid: str) -> str:
    """The hash of the chain before keyed MACs (frozen copy of the old ``event_hash``)."""
    created = event.created_at.astimezone(dt.UTC) if event.created_at else None
    content = {
        "envelope": str(envelope_uuid),
        "seq": event.seq,
        "action": event.action,
        "actor": event.actor_id,
        "actor_name": event.actor_name,
        "recipient": event.recipient_id,
        "time": created.isoformat(timespec="microseconds") if created else "",
        "ip": event.ip or "",
        "user_agent": event.user_agent,
        "document": event.document_name,
        "before": event.sha256_before,
        "after": event.sha256_after,
        "detail": event.detail,
        "prev": event.prev_mac,
    }
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _legacy_break(events: Any, envelope_uuid: str) -> Any:
    previous = GENESIS
    for expected, event in enumerate(events, start=1):
        if event.seq != expected:
            return expected, "missing"
        if event.prev_mac != previous:
            return event.seq, "link"
        if _legacy_hash(event, envelope_uuid) != event.mac:
            return event.seq, "altered"
        previous = event.mac
    return None


def upgrade(apps: Any, schema_editor: Any) -> None:
    from qianshu.core import chains
    from qianshu.envelopes.audit import event_content

    Envelope = apps.get_model("envelopes", "Envelope")
    AuditEvent = apps.get_model("envelopes", "AuditEvent")
    for envelope in Envelope.objects.order_by("pk").iterator():
        events = list(AuditEvent.objects.filter(envelope_id=envelope.pk).order_by("seq", "pk"))
        if not events:
            continue
        found = _legacy_break(events, envelope.uuid)
        if found is None:  # numbered 1…n already: numbering again changes nothing
            chains.chain_existing(f"envelope:{envelope.uuid}", events, event_content)
        else:
            for event in events:
                event.key_id = chains.LEGACY_KEY_ID
            print(
                f"\n  envelope {envelope.number}: audit trail already broken at event "
                f"{found[0]} ({found[1]}); kept as broken"
            )
        AuditEvent.objects.bulk_update(events, ["key_id", "prev_mac", "mac"], batch_size=500)
        Envelope.objects.filter(pk=envelope.pk).update(
            audit_count=events[-1].seq, audit_head=events[-1].mac
        )


class Migration(migrations.Migration):
    dependencies = [("envelopes", "0003_audit_keyed_mac")]

    operations = [migrations.RunPython(upgrade, migrations.RunPython.noop, elidable=False)]
