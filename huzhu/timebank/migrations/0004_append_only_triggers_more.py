"""On PostgreSQL, the database refuses UPDATE and DELETE of redemptions, merchant statements,
membership payments, level changes and leaderboards as well."""

from django.db import migrations

from huzhu.core.models import append_only_trigger_sql

TABLES = (
    "timebank_redemption",
    "timebank_merchantstatement",
    "timebank_membershippayment",
    "timebank_levelchange",
    "timebank_leaderboard",
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
    dependencies = [("timebank", "0003_paper_merchants_members")]
    operations = [migrations.RunPython(forward, backward)]
