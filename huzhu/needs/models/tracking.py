"""Tracking a need while it is served (DOMAIN.md "The core loop" 4.–6.): the tracking thread
that links resident, volunteer and manager (跟踪群), the volunteer's photo/video evidence, and
the manager's spot checks (抽查). All three are records: written once, never updated or deleted
(the ORM refuses; on PostgreSQL a trigger refuses as well, migration 0004)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huzhu.core.models import AppendOnlyModel
from huzhu.needs.models.needs import Need

# The file types evidence may have (recognized by their first bytes, never by the declared
# type or the file name) and the extension a stored file gets.
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
}


class EvidenceKind(models.TextChoices):
    PHOTO = "photo", _("照片")
    VIDEO = "video", _("视频")


class SpotCheckMethod(models.TextChoices):
    PHONE = "phone", _("电话抽查")
    ON_SITE = "on_site", _("上门抽查")


class SpotCheckResult(models.TextChoices):
    OK = "ok", _("正常")
    PROBLEM = "problem", _("有问题")


def _keyed(name: str, *fields: str) -> models.UniqueConstraint:
    """One row per (need, person, idempotency key) when a key was given: a retried request
    finds the row it made (huzhu.needs.actions.tracking)."""
    return models.UniqueConstraint(
        fields=["need", *fields, "idempotency_key"],
        condition=~Q(idempotency_key=""),
        name=name,
    )


class ThreadMessage(AppendOnlyModel):
    """One message of a need's tracking thread (跟踪群)."""

    need = models.ForeignKey(Need, on_delete=models.PROTECT, related_name="messages")
    community = models.ForeignKey("orgs.Community", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("发言人"),
    )
    body = models.TextField(_("内容"), max_length=2000)
    created_at = models.DateTimeField(_("时间"))
    idempotency_key = models.CharField(max_length=128, blank=True)

    class Meta:
        verbose_name = _("跟踪群消息")
        verbose_name_plural = _("跟踪群消息")
        ordering = ["need_id", "created_at", "id"]
        indexes = [models.Index(fields=["need", "created_at"], name="threadmessage_need_at")]
        constraints = [_keyed("threadmessage_once_per_key", "author")]

    def __str__(self) -> str:
        return f"{self.need_id}: {self.body[:30]}"


def evidence_path(instance: Evidence, filename: str) -> str:
    """Where an evidence file is stored under MEDIA_ROOT: by need, under a random name with the
    extension of its recognized type (the uploaded name is not used)."""
    ext = EXTENSIONS.get(instance.content_type, "")
    return f"needs/evidence/{instance.need_id}/{uuid.uuid4().hex}{ext}"


class Evidence(AppendOnlyModel):
    """A photo or video of the service, uploaded by its volunteer (or a manager)."""

    need = models.ForeignKey(Need, on_delete=models.PROTECT, related_name="evidence")
    community = models.ForeignKey("orgs.Community", on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("上传人"),
    )
    file = models.FileField(_("文件"), upload_to=evidence_path, max_length=200)
    kind = models.CharField(_("类别"), max_length=5, choices=EvidenceKind.choices)
    content_type = models.CharField(_("文件类型"), max_length=40)
    size = models.PositiveBigIntegerField(_("大小（字节）"))
    created_at = models.DateTimeField(_("时间"))
    idempotency_key = models.CharField(max_length=128, blank=True)

    class Meta:
        verbose_name = _("服务凭证")
        verbose_name_plural = _("服务凭证")
        ordering = ["need_id", "created_at", "id"]
        indexes = [models.Index(fields=["need", "created_at"], name="evidence_need_at")]
        constraints = [
            _keyed("evidence_once_per_key", "uploaded_by"),
            models.CheckConstraint(condition=Q(size__gt=0), name="evidence_size_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.need_id}: {self.kind} {self.size}"

    @property
    def extension(self) -> str:
        return EXTENSIONS.get(self.content_type, "")


class SpotCheck(AppendOnlyModel):
    """A manager's spot check of a service, by phone or on site, and what they found."""

    need = models.ForeignKey(Need, on_delete=models.PROTECT, related_name="spot_checks")
    community = models.ForeignKey("orgs.Community", on_delete=models.PROTECT, related_name="+")
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("抽查人"),
    )
    method = models.CharField(_("方式"), max_length=8, choices=SpotCheckMethod.choices)
    result = models.CharField(_("结果"), max_length=8, choices=SpotCheckResult.choices)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("时间"))
    idempotency_key = models.CharField(max_length=128, blank=True)

    class Meta:
        verbose_name = _("抽查记录")
        verbose_name_plural = _("抽查记录")
        ordering = ["need_id", "created_at", "id"]
        indexes = [models.Index(fields=["need", "created_at"], name="spotcheck_need_at")]
        constraints = [
            _keyed("spotcheck_once_per_key", "manager"),
            models.CheckConstraint(
                condition=Q(method__in=SpotCheckMethod.values), name="spotcheck_method_valid"
            ),
            models.CheckConstraint(
                condition=Q(result__in=SpotCheckResult.values), name="spotcheck_result_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.need_id}: {self.method} {self.result}"
