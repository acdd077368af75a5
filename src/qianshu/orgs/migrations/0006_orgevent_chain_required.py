import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orgs", "0005_orgevent_chain_upgrade")]

    operations = [
        migrations.AlterField(
            model_name="orgevent",
            name="chain",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="core.auditchain",
            ),
        ),
        migrations.AddConstraint(
            model_name="orgevent",
            constraint=models.UniqueConstraint(fields=("chain", "seq"), name="orgs_orgevent_seq"),
        ),
    ]
