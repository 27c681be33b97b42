"""On PostgreSQL, the database itself refuses UPDATE and DELETE of a question's history."""

from django.db import migrations

from huzhu.core.models import append_only_trigger_sql

TABLES = ("helpdesk_questionevent",)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(append_only_trigger_sql(table)[0], params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(append_only_trigger_sql(table)[1], params=None)


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
