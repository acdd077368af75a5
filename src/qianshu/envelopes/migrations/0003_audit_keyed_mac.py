import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_audit_chains_and_anchors"),
        ("envelopes", "0002_envelope_allow_sms_signing"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RenameField(model_name="auditevent", old_name="hash", new_name="mac"),
        migrations.RenameField(model_name="auditevent", old_name="prev_hash", new_name="prev_mac"),
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(default="", max_length=16),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="recipient",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="envelopes.recipient",
            ),
        ),
        migrations.AddField(
            model_name="envelope",
            name="audit_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="envelope",
            name="audit_head",
            field=models.CharField(default="0" * 64, max_length=64),
        ),
        migrations.AddField(
            model_name="envelope",
            name="audit_anchored_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddIndex(
            model_name="envelope",
            index=models.Index(
                condition=models.Q(
                    ("audit_count", models.F("audit_anchored_count")), _negated=True
                ),
                fields=["id"],
                name="env_audit_unanchored",
            ),
        ),
    ]
