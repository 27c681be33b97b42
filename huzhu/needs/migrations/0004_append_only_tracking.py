"""On PostgreSQL, the database itself refuses UPDATE and DELETE of a need's tracking records:
thread messages, evidence and spot checks."""

from django.db import migrations

from huzhu.core.models import append_only_trigger_sql

TABLES = ("needs_threadmessage", "needs_evidence", "needs_spotcheck")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(append_only_trigger_sql(table)[0], params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(append_only_trigger_sql(table)[1], params=None)


class Migration(migrations.Migration):
    dependencies = [("needs", "0003_tracking")]
    operations = [migrations.RunPython(forward, backward)]
