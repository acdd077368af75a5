import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_securityevent_chain_upgrade")]

    operations = [
        migrations.AlterField(
            model_name="securityevent",
            name="chain",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="core.auditchain",
            ),
        ),
        migrations.AddConstraint(
            model_name="securityevent",
            constraint=models.UniqueConstraint(
                fields=("chain", "seq"), name="accounts_securityevent_seq"
            ),
        ),
    ]
