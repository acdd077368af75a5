"""Chain the existing organisation events with the keyed MAC, one chain per organisation, in
the order they were written (key id ``m1u``: they were not protected before this upgrade)."""

from django.db import migrations


def upgrade(apps, schema_editor):
    from qianshu.core.chains import GENESIS, UPGRADED_KEY_ID, event_mac
    from qianshu.orgs.audit import chain_key, event_content

    AuditChain = apps.get_model("core", "AuditChain")
    OrgEvent = apps.get_model("orgs", "OrgEvent")
    org_ids = OrgEvent.objects.values_list("org_id", flat=True).distinct().order_by("org_id")
    for org_id in list(org_ids):
        key = chain_key(org_id)
        chain = AuditChain.objects.create(key=key)
        events = list(OrgEvent.objects.filter(org_id=org_id).order_by("created_at", "pk"))
        prev = GENESIS
        for seq, event in enumerate(events, start=1):
            event.chain_id, event.seq, event.key_id, event.prev_mac = (
                chain.pk,
                seq,
                UPGRADED_KEY_ID,
                prev,
            )
            event.mac = event_mac(UPGRADED_KEY_ID, key, seq, prev, event_content(event))
            prev = event.mac
        OrgEvent.objects.bulk_update(
            events, ["chain", "seq", "key_id", "prev_mac", "mac"], batch_size=500
        )
        AuditChain.objects.filter(pk=chain.pk).update(count=len(events), head=prev)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_audit_chains_and_anchors"),
        ("orgs", "0002_orgevent_chain"),
    ]

    operations = [migrations.RunPython(upgrade, migrations.RunPython.noop, elidable=False)]
