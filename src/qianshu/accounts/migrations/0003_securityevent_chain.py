import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_audit_chains_and_anchors"),
        ("accounts", "0002_user_phone_changed"),
    ]

    operations = [
        migrations.AddField(
            model_name="securityevent",
            name="chain",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="core.auditchain",
            ),
        ),
        migrations.AddField(
            model_name="securityevent",
            name="seq",
            field=models.PositiveBigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="securityevent",
            name="key_id",
            field=models.CharField(default="", max_length=16),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="securityevent",
            name="prev_mac",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="securityevent",
            name="mac",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
    ]
