from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel("Tenant", [
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                       verbose_name="ID")),
            ("tenant_id", models.CharField(max_length=64, unique=True)),
            ("name", models.CharField(max_length=100)),
        ]),
    ]
