"""On PostgreSQL, the database itself refuses UPDATE and DELETE of audit rows."""

from django.db import migrations

from huzhu.core.models import append_only_trigger_sql


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(append_only_trigger_sql("audit_auditentry")[0], params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(append_only_trigger_sql("audit_auditentry")[1], params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
