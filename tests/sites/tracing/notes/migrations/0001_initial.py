import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = [("tenants", "0001_initial")]
    operations = [
        migrations.CreateModel("Note", [
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                       verbose_name="ID")),
            ("text", models.CharField(max_length=200)),
            ("tenant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                         to="tenants.tenant")),
        ]),
    ]
