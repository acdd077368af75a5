"""Chain the existing organisation events with the keyed MAC, one chain per organisation, in
the order they were written (key id ``m1u``: they were not protected before this upgrade)."""

from typing import Any

from django.db import migrations


def upgrade(apps: Any, schema_editor: Any) -> None:
    from qianshu.core.chains import chain_existing
    from qianshu.orgs.audit import chain_key, event_content

    AuditChain = apps.get_model("core", "AuditChain")
    OrgEvent = apps.get_model("orgs", "OrgEvent")
    org_ids = OrgEvent.objects.values_list("org_id", flat=True).distinct().order_by("org_id")
    for org_id in list(org_ids):
        chain = AuditChain.objects.create(key=chain_key(org_id))
        events = list(OrgEvent.objects.filter(org_id=org_id).order_by("created_at", "pk"))
        for event in events:
            event.chain_id = chain.pk
        head = chain_existing(chain.key, events, event_content)
        OrgEvent.objects.bulk_update(
            events, ["chain", "seq", "key_id", "prev_mac", "mac"], batch_size=500
        )
        AuditChain.objects.filter(pk=chain.pk).update(count=len(events), head=head)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_audit_chains_and_anchors"),
        ("orgs", "0004_orgevent_chain"),
    ]

    operations = [migrations.RunPython(upgrade, migrations.RunPython.noop, elidable=False)]
