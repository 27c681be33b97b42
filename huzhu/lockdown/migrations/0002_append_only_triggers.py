"""On PostgreSQL, the database itself refuses UPDATE and DELETE of the group buys' records."""

from django.db import migrations

from huzhu.core.models import append_only_trigger_sql

TABLES = (
    "lockdown_shortage",
    "lockdown_substitution",
    "lockdown_refund",
    "lockdown_payment",
)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(append_only_trigger_sql(table)[0], params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(append_only_trigger_sql(table)[1], params=None)


class Migration(migrations.Migration):
    dependencies = [("lockdown", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
