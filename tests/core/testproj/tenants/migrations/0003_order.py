import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tenants", "0002_customer")]
    operations = [
        migrations.CreateModel(
            name="Order",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False)),
                ("text", models.CharField(max_length=100)),
                ("customer", models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE, to="tenants.customer")),
            ],
        ),
    ]
