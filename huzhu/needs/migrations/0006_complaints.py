"""Complaints against a service and their append-only history (on PostgreSQL a trigger
refuses UPDATE and DELETE of needs_complaintevent, as in 0002 and 0004)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from huzhu.core.models import append_only_trigger_sql

EVENTS_TABLE = "needs_complaintevent"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(append_only_trigger_sql(EVENTS_TABLE)[0], params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(append_only_trigger_sql(EVENTS_TABLE)[1], params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('needs', '0005_publish_key'),
        ('orgs', '0001_initial'),
        ('timebank', '0008_post_batch_function'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Complaint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='创建时间')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='更新时间')),
                ('category', models.CharField(choices=[('attitude', '服务态度'), ('quality', '服务质量'), ('punctuality', '迟到或爽约'), ('conduct', '不当行为'), ('safety', '安全问题'), ('other', '其他')], max_length=12, verbose_name='投诉类别')),
                ('description', models.TextField(max_length=2000, verbose_name='投诉内容')),
                ('state', models.CharField(choices=[('open', '待联系'), ('contacted', '处理中'), ('resolved', '已处理'), ('dismissed', '不予支持')], default='open', max_length=10, verbose_name='状态')),
                ('filed_at', models.DateTimeField(verbose_name='投诉时间')),
                ('contact_due_at', models.DateTimeField(verbose_name='联系截止')),
                ('result_due_at', models.DateTimeField(verbose_name='处理截止')),
                ('escalation_level', models.PositiveSmallIntegerField(choices=[(0, '未上报'), (1, '联系超时已上报'), (2, '处理超时已上报')], default=0, verbose_name='上报级别')),
                ('escalated_at', models.DateTimeField(blank=True, null=True, verbose_name='上报时间')),
                ('contacted_at', models.DateTimeField(blank=True, null=True, verbose_name='联系时间')),
                ('contact_note', models.CharField(blank=True, max_length=1000, verbose_name='联系记录')),
                ('resolved_at', models.DateTimeField(blank=True, null=True, verbose_name='处理时间')),
                ('decision', models.CharField(blank=True, choices=[('upheld', '投诉成立'), ('not_upheld', '投诉不成立'), ('malicious', '恶意投诉')], max_length=12, verbose_name='处理结论')),
                ('reason', models.CharField(blank=True, max_length=1000, verbose_name='处理说明')),
                ('points_decided', models.BigIntegerField(default=0, verbose_name='决定扣除积分')),
                ('points_deducted', models.BigIntegerField(default=0, verbose_name='实际扣除积分')),
                ('suspended_until', models.DateTimeField(blank=True, null=True, verbose_name='暂停服务至')),
                ('retraining_required', models.BooleanField(default=False, verbose_name='需重新培训')),
                ('complainant_frozen_until', models.DateTimeField(blank=True, null=True, verbose_name='投诉人冻结至')),
                ('idempotency_key', models.CharField(blank=True, default='', max_length=128, verbose_name='幂等键')),
                ('assignment', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='complaints', to='needs.assignment', verbose_name='派单')),
                ('building', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orgs.building', verbose_name='楼栋')),
                ('community', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orgs.community', verbose_name='社区')),
                ('complainant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='complaints_made', to=settings.AUTH_USER_MODEL, verbose_name='投诉人')),
                ('contacted_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('deduction', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='timebank.transaction', verbose_name='扣分记录')),
                ('filed_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='登记人')),
                ('handler', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='处理人')),
                ('need', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='complaints', to='needs.need', verbose_name='需求')),
                ('respondent', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='complaints_received', to=settings.AUTH_USER_MODEL, verbose_name='被投诉人')),
            ],
            options={
                'verbose_name': '投诉',
                'verbose_name_plural': '投诉',
                'ordering': ['-filed_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='ComplaintEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('action', models.CharField(max_length=20, verbose_name='操作')),
                ('from_state', models.CharField(blank=True, max_length=10, verbose_name='原状态')),
                ('to_state', models.CharField(max_length=10, verbose_name='新状态')),
                ('at', models.DateTimeField(verbose_name='时间')),
                ('note', models.CharField(blank=True, max_length=1000, verbose_name='备注')),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('community', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orgs.community')),
                ('complaint', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='events', to='needs.complaint')),
            ],
            options={
                'verbose_name': '投诉记录',
                'verbose_name_plural': '投诉记录',
                'ordering': ['complaint_id', 'id'],
            },
        ),
        migrations.AddIndex(
            model_name='complaint',
            index=models.Index(fields=['community', 'state', 'filed_at'], name='complaint_community'),
        ),
        migrations.AddIndex(
            model_name='complaint',
            index=models.Index(condition=models.Q(('state', 'open')), fields=['contact_due_at'], name='complaint_contact_due'),
        ),
        migrations.AddIndex(
            model_name='complaint',
            index=models.Index(condition=models.Q(('state__in', ['open', 'contacted'])), fields=['result_due_at'], name='complaint_result_due'),
        ),
        migrations.AddIndex(
            model_name='complaint',
            index=models.Index(fields=['respondent', 'state'], name='complaint_respondent'),
        ),
        migrations.AddIndex(
            model_name='complaint',
            index=models.Index(fields=['complainant', 'state'], name='complaint_complainant'),
        ),
        migrations.AddConstraint(
            model_name='complaint',
            constraint=models.UniqueConstraint(condition=models.Q(('idempotency_key', ''), _negated=True), fields=('filed_by', 'idempotency_key'), name='complaint_key_per_filer'),
        ),
        migrations.AddConstraint(
            model_name='complaint',
            constraint=models.UniqueConstraint(condition=models.Q(('state__in', ['open', 'contacted'])), fields=('need', 'complainant'), name='complaint_one_open_per_side'),
        ),
        migrations.AddConstraint(
            model_name='complaint',
            constraint=models.CheckConstraint(condition=models.Q(('complainant', models.F('respondent')), _negated=True), name='complaint_not_against_self'),
        ),
        migrations.AddConstraint(
            model_name='complaint',
            constraint=models.CheckConstraint(condition=models.Q(('result_due_at__gte', models.F('contact_due_at'))), name='complaint_result_after_contact'),
        ),
        migrations.AddConstraint(
            model_name='complaint',
            constraint=models.CheckConstraint(condition=models.Q(('points_decided__gte', 0), ('points_deducted__gte', 0), ('points_deducted__lte', models.F('points_decided'))), name='complaint_points_within_decided'),
        ),
        migrations.AddConstraint(
            model_name='complaint',
            constraint=models.CheckConstraint(condition=models.Q(('state__in', ['open', 'contacted']), models.Q(('decision', ''), _negated=True), _connector='OR'), name='complaint_closed_has_decision'),
        ),
        migrations.AddIndex(
            model_name='complaintevent',
            index=models.Index(fields=['complaint', 'at'], name='complaintevent_at'),
        ),
        migrations.RunPython(forward, backward),
    ]
