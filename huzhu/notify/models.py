"""Inbox, broadcasts, receipts and replies, and delivery over external channels.

The in-app inbox is always on: an event notification is a ``Notification`` row, a broadcast
reaches each recipient as a ``Receipt`` row (delivered, read, replied). External channels
(SMS, email, WeCom, Web Push) are ``Delivery`` rows, each try of which is a
``DeliveryAttempt`` row.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from huzhu.accounts.models import Person
from huzhu.accounts.pii import EncryptedTextField
from huzhu.core.models import AppendOnlyModel, TimeStampedModel
from huzhu.orgs.models import Alliance, Building, Community, Group


class Channel(models.TextChoices):
    INBOX = "inbox", _("站内信")
    SMS = "sms", _("短信")
    EMAIL = "email", _("邮件")
    WECOM = "wecom", _("企业微信")
    WEBPUSH = "webpush", _("浏览器推送")


EXTERNAL_CHANNELS = (Channel.SMS, Channel.EMAIL, Channel.WECOM, Channel.WEBPUSH)


class Preference(TimeStampedModel):
    """How a person wants to be reached beyond the inbox, and when not to be disturbed."""

    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, related_name="notify_preference"
    )
    community = models.ForeignKey(Community, on_delete=models.PROTECT, null=True, blank=True)
    # Ordered: the first channel is tried first, the next ones are the fallbacks.
    channels = models.JSONField(_("接收渠道"), default=list, blank=True)
    email = EncryptedTextField(_("邮箱"), blank=True)
    quiet_start = models.TimeField(_("免打扰开始"), null=True, blank=True)
    quiet_end = models.TimeField(_("免打扰结束"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知偏好")
        verbose_name_plural = _("通知偏好")

    def __str__(self) -> str:
        return f"{self.person} {self.channels}"


class WebPushSubscription(TimeStampedModel):
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="webpush_subscriptions"
    )
    community = models.ForeignKey(Community, on_delete=models.PROTECT, null=True, blank=True)
    endpoint = models.URLField(max_length=500, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("浏览器推送订阅")
        verbose_name_plural = _("浏览器推送订阅")

    def __str__(self) -> str:
        return f"{self.person} webpush"


class WecomRobot(TimeStampedModel):
    """A WeCom (企业微信) group robot: broadcasts to a group or community are posted there too."""

    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="+")
    group = models.ForeignKey(
        Group, on_delete=models.CASCADE, null=True, blank=True, related_name="wecom_robots"
    )
    name = models.CharField(_("名称"), max_length=100)
    webhook_key = EncryptedTextField(_("机器人密钥"))
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("企业微信机器人")
        verbose_name_plural = _("企业微信机器人")

    def __str__(self) -> str:
        return self.name


class Notification(models.Model):
    """An event message in one person's inbox (a need was offered, points were credited…)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="notifications")
    community = models.ForeignKey(Community, on_delete=models.PROTECT, null=True, blank=True)
    code = models.CharField(_("类型"), max_length=80)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    link = models.CharField(_("链接"), max_length=300, blank=True)
    urgent = models.BooleanField(_("紧急"), default=False)
    created_at = models.DateTimeField(_("时间"), db_index=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)
    # The causing action's key: the same event never lands twice in an inbox.
    idempotency_key = models.CharField(max_length=120, unique=True)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["person"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread",
            ),
            models.Index(fields=["person", "-created_at"], name="notification_inbox"),
        ]

    def __str__(self) -> str:
        return self.title


class Visibility(models.TextChoices):
    PUBLIC = "public", _("公开")
    PARTNERS = "partners", _("合作伙伴")
    INTERNAL = "internal", _("内部")


class ReplyKind(models.TextChoices):
    NONE = "none", _("无需回复")
    YES_NO = "yes_no", _("是 / 否")
    CHOICE = "choice", _("单选")
    NUMBER = "number", _("数字")
    TEXT = "text", _("文字")


class BroadcastStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SCHEDULED = "scheduled", _("已排期")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    CANCELLED = "cancelled", _("已取消")


class Broadcast(TimeStampedModel):
    """A message to an audience (role, building, group, skill, availability… up to every
    volunteer of the alliance), optionally asking for a reply by a deadline."""

    alliance = models.ForeignKey(Alliance, on_delete=models.PROTECT, related_name="+")
    # The tenant key; empty for an alliance-wide broadcast by a district admin.
    community = models.ForeignKey(
        Community,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="broadcasts",
        verbose_name=_("社区"),
    )
    author = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="+", verbose_name=_("发布人")
    )
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"))
    visibility = models.CharField(
        _("公开范围"), max_length=10, choices=Visibility.choices, default=Visibility.INTERNAL
    )
    urgent = models.BooleanField(
        _("紧急"), default=False, help_text=_("紧急消息不受免打扰时段限制")
    )
    audience = models.JSONField(_("接收对象"), default=dict)
    audience_label = models.CharField(_("接收对象"), max_length=300, blank=True)
    channels = models.JSONField(_("外部渠道"), default=list, blank=True)
    reply_kind = models.CharField(
        _("回复方式"), max_length=10, choices=ReplyKind.choices, default=ReplyKind.NONE
    )
    reply_choices = models.JSONField(_("选项"), default=list, blank=True)
    reply_deadline = models.DateTimeField(_("回复截止"), null=True, blank=True)
    scheduled_at = models.DateTimeField(_("定时发送"), null=True, blank=True, db_index=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=BroadcastStatus.choices, default=BroadcastStatus.DRAFT
    )
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    recipient_count = models.PositiveIntegerField(_("接收人数"), default=0)

    class Meta:
        verbose_name = _("广播")
        verbose_name_plural = _("广播")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "scheduled_at"])]

    def __str__(self) -> str:
        return self.title


class Receipt(models.Model):
    """One recipient of one broadcast: the broadcast in their inbox, read and reply.

    Hundreds of thousands are written per broadcast (ARCHITECTURE.md P6), so the table carries
    only the indexes its reads need and no per-row foreign-key checks: every row is written by
    one INSERT … SELECT from the people it names (integrity by construction), and deletes
    cascade through the ORM. See docs/adr/0003-receipts-without-row-constraints.md.
    """

    broadcast = models.ForeignKey(
        Broadcast,
        on_delete=models.CASCADE,
        related_name="receipts",
        db_index=False,
        db_constraint=False,
    )
    person = models.ForeignKey(
        Person,
        on_delete=models.CASCADE,
        related_name="receipts",
        db_index=False,
        db_constraint=False,
    )
    community = models.ForeignKey(
        Community,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    building = models.ForeignKey(
        Building,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    delivered_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    reply = models.CharField(max_length=500, blank=True)
    resent_at = models.DateTimeField(null=True, blank=True)
    resend_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("回执")
        verbose_name_plural = _("回执")
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "person"], name="receipt_one_per_person"),
        ]
        indexes = [
            # The inbox, the unread count (few rows per person) and cascades by person.
            models.Index(fields=["person", "-delivered_at"], name="receipt_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.broadcast_id}→{self.person_id}"


class SavedAudience(TimeStampedModel):
    """A named audience filter to reuse ("all drivers of buildings 1–10")."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("名称"), max_length=100)
    spec = models.JSONField(_("条件"), default=dict)
    created_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("常用接收对象")
        verbose_name_plural = _("常用接收对象")
        constraints = [
            models.UniqueConstraint(fields=["community", "name"], name="savedaudience_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("失败")
    SKIPPED = "skipped", _("已跳过")


class Delivery(TimeStampedModel):
    """One message to one person (or one robot) over one external channel.

    ``idempotency_key`` is unique, so the same message is never queued twice on a channel; the
    key is also handed to the provider, so a retried request is not sent twice.
    """

    community = models.ForeignKey(
        Community, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    robot = models.ForeignKey(
        WecomRobot, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    receipt = models.ForeignKey(
        Receipt, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    broadcast = models.ForeignKey(
        Broadcast, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    # Channels still to try after this one fails for good (the fallback chain).
    fallbacks = models.JSONField(default=list, blank=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(_("服务商编号"), max_length=120, blank=True)
    last_error = models.TextField(_("错误"), blank=True)
    idempotency_key = models.CharField(max_length=160, unique=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("投递")
        verbose_name_plural = _("投递")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="delivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.status}"


class DeliveryAttempt(AppendOnlyModel):
    """One try of a delivery: when, with which outcome, the provider's id or the error."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    provider_id = models.CharField(max_length=120, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("投递尝试")
        verbose_name_plural = _("投递尝试")
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id}#{self.number}"
