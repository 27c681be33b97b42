"""Memberships, levels, referrals and the monthly leaderboard (DOMAIN.md "Members, merchants,
money" and "The time bank"). Money is integer fen."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huzhu.core.models import AppendOnlyModel


class Tier(models.TextChoices):
    TRIAL = "trial", _("体验会员")
    COCREATE = "cocreate", _("共创会员")


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("现金")
    WECHAT = "wechat", _("微信")
    ALIPAY = "alipay", _("支付宝")
    BANK = "bank", _("银行转账")
    OTHER = "other", _("其他")


class Membership(models.Model):
    """One per person; renewals extend ``ends_on`` and may change the tier."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("会员"),
        on_delete=models.PROTECT,
        related_name="membership",
    )
    community = models.ForeignKey(
        "orgs.Community", verbose_name=_("社区"), on_delete=models.PROTECT, related_name="+"
    )
    tier = models.CharField(_("会员类型"), max_length=10, choices=Tier.choices)
    # Order of joining among the community's co-creation members (the first N get a benefit).
    cocreate_number = models.PositiveIntegerField(_("共创会员序号"), null=True, blank=True)
    founding_benefit = models.BooleanField(_("首批权益"), default=False)
    joined_on = models.DateField(_("入会日期"))
    ends_on = models.DateField(_("到期日期"), db_index=True)
    level = models.PositiveSmallIntegerField(_("等级"), default=1)
    # The expiry date a reminder was last sent for (reminders are sent once per period).
    reminded_for = models.DateField(_("已提醒到期日"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("会员")
        verbose_name_plural = _("会员")
        ordering = ["-joined_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "cocreate_number"],
                condition=Q(cocreate_number__isnull=False),
                name="timebank_cocreate_number_unique",
            ),
            models.CheckConstraint(condition=Q(level__gte=1), name="timebank_level_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.get_tier_display()}"


class MembershipPayment(AppendOnlyModel):
    """A membership fee recorded by the finance officer (no payment gateway)."""

    membership = models.ForeignKey(
        Membership, verbose_name=_("会员"), on_delete=models.PROTECT, related_name="payments"
    )
    community = models.ForeignKey(
        "orgs.Community", verbose_name=_("社区"), on_delete=models.PROTECT, related_name="+"
    )
    tier = models.CharField(_("会员类型"), max_length=10, choices=Tier.choices)
    amount_fen = models.BigIntegerField(_("金额（分）"))
    method = models.CharField(_("支付方式"), max_length=10, choices=PaymentMethod.choices)
    receipt_number = models.CharField(_("收据编号"), max_length=60)
    period_start = models.DateField(_("起始日期"))
    period_end = models.DateField(_("截止日期"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("经办人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("登记时间"))
    idempotency_key = models.CharField(_("幂等键"), max_length=128, unique=True)

    class Meta:
        verbose_name = _("会费记录")
        verbose_name_plural = _("会费记录")
        ordering = ["-recorded_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "receipt_number"], name="timebank_receipt_number_unique"
            ),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="timebank_payment_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_number}"


class LevelChange(AppendOnlyModel):
    """History of a member's level: every automatic rise, with the counts behind it."""

    membership = models.ForeignKey(
        Membership, verbose_name=_("会员"), on_delete=models.PROTECT, related_name="level_changes"
    )
    old_level = models.PositiveSmallIntegerField(_("原等级"))
    new_level = models.PositiveSmallIntegerField(_("新等级"))
    years = models.PositiveIntegerField(_("会龄（年）"))
    hours = models.DecimalField(_("服务时长"), max_digits=10, decimal_places=2)
    referrals = models.PositiveIntegerField(_("推荐人数"))
    created_at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("等级变化")
        verbose_name_plural = _("等级变化")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.membership_id}: {self.old_level} → {self.new_level}"


class ReferralCode(models.Model):
    person = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("推荐人"),
        on_delete=models.CASCADE,
        related_name="referral_code",
    )
    code = models.CharField(_("推荐码"), max_length=16, unique=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("推荐码")
        verbose_name_plural = _("推荐码")

    def __str__(self) -> str:
        return self.code


class Referral(models.Model):
    """Who brought whom; the referrer is rewarded once, when the referred person first joins."""

    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("推荐人"),
        on_delete=models.PROTECT,
        related_name="referrals_made",
    )
    referred = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("被推荐人"),
        on_delete=models.PROTECT,
        related_name="referred_by",
    )
    code = models.CharField(_("推荐码"), max_length=16)
    created_at = models.DateTimeField(_("时间"))
    reward = models.OneToOneField(
        "timebank.Transaction",
        verbose_name=_("奖励交易"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referral",
    )

    class Meta:
        verbose_name = _("推荐记录")
        verbose_name_plural = _("推荐记录")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(referrer=models.F("referred")), name="timebank_no_self_referral"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referred_id}"


class Leaderboard(AppendOnlyModel):
    """A community's anonymous monthly leaderboard (building + points, never names), published
    on ``timebank.leaderboard_day`` for the month before."""

    community = models.ForeignKey(
        "orgs.Community", verbose_name=_("社区"), on_delete=models.PROTECT, related_name="+"
    )
    month = models.DateField(_("月份"))  # first day of the month ranked
    rows = models.JSONField(_("榜单"), default=list)  # [{"rank", "building", "points"}]
    published_at = models.DateTimeField(_("发布时间"))

    class Meta:
        verbose_name = _("积分排行榜")
        verbose_name_plural = _("积分排行榜")
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "month"], name="timebank_one_leaderboard_per_month"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.community_id} {self.month:%Y-%m}"
