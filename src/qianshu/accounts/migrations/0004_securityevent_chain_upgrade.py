"""Chain the existing security events with the keyed MAC, one chain per user and one for the
events without a user, in the order they were written (key id ``m1u``: they were not
protected before this upgrade)."""

from typing import Any

from django.db import migrations


def upgrade(apps: Any, schema_editor: Any) -> None:
    from qianshu.accounts.audit import chain_key, event_content
    from qianshu.core.chains import chain_existing

    AuditChain = apps.get_model("core", "AuditChain")
    SecurityEvent = apps.get_model("accounts", "SecurityEvent")
    user_ids = SecurityEvent.objects.values_list("user_id", flat=True).distinct()
    for user_id in sorted(set(user_ids), key=lambda u: (u is not None, u or 0)):
        chain = AuditChain.objects.create(key=chain_key(user_id))
        events = list(SecurityEvent.objects.filter(user_id=user_id).order_by("created_at", "pk"))
        for event in events:
            event.chain_id = chain.pk
        head = chain_existing(chain.key, events, event_content)
        SecurityEvent.objects.bulk_update(
            events, ["chain", "seq", "key_id", "prev_mac", "mac"], batch_size=500
        )
        AuditChain.objects.filter(pk=chain.pk).update(count=len(events), head=head)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_securityevent_chain"),
        ("core", "0001_audit_chains_and_anchors"),
    ]

    operations = [migrations.RunPython(upgrade, migrations.RunPython.noop, elidable=False)]
