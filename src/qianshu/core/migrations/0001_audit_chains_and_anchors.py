import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="AuditChain",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=64, unique=True)),
                ("count", models.PositiveBigIntegerField(default=0)),
                ("head", models.CharField(default="0" * 64, max_length=64)),
                ("anchored_count", models.PositiveBigIntegerField(default=0)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "verbose_name": "审计链",
                "verbose_name_plural": "审计链",
                "indexes": [
                    models.Index(
                        condition=models.Q(("count", models.F("anchored_count")), _negated=True),
                        fields=["key"],
                        name="core_chain_unanchored",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="AuditAnchor",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("completion", "完成时间戳"), ("periodic", "定期时间戳")],
                        max_length=16,
                    ),
                ),
                ("seq", models.PositiveBigIntegerField(blank=True, null=True, unique=True)),
                ("prev_digest", models.CharField(blank=True, max_length=64)),
                ("digest", models.CharField(max_length=64)),
                ("token", models.BinaryField()),
                ("token_time", models.DateTimeField()),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "verbose_name": "审计时间戳",
                "verbose_name_plural": "审计时间戳",
                "ordering": ["-created_at"],
            },
        ),
        migrations.CreateModel(
            name="AuditAnchorEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("chain", models.CharField(max_length=80)),
                ("count", models.PositiveBigIntegerField()),
                ("head", models.CharField(max_length=64)),
                (
                    "anchor",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="entries",
                        to="core.auditanchor",
                    ),
                ),
            ],
            options={
                "verbose_name": "审计时间戳条目",
                "verbose_name_plural": "审计时间戳条目",
                "indexes": [
                    models.Index(fields=["chain", "count"], name="core_anchor_entry_chain")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("anchor", "chain"), name="core_anchor_entry_unique"
                    )
                ],
            },
        ),
    ]
