"""The time bank's double-entry ledger (DOMAIN.md "The time bank").

Amounts are integer hundredths of a point. Transactions and postings are append-only; a
correction is a reversing transaction. Balances are cached on the account and changed under a
row lock in the same database transaction as the postings.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huzhu.core.models import AppendOnlyModel


class AccountKind(models.TextChoices):
    PERSON = "person", _("个人")
    COMMUNITY = "community", _("社区发行")
    FUND = "fund", _("互助基金")
    MERCHANT = "merchant", _("商户")
    SYSTEM = "system", _("系统")


class Account(models.Model):
    kind = models.CharField(_("类型"), max_length=16, choices=AccountKind.choices)
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("成员"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="timebank_accounts",
    )
    community = models.ForeignKey(
        "orgs.Community",
        verbose_name=_("社区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="timebank_accounts",
    )
    code = models.CharField(_("代码"), max_length=64, blank=True, default="")
    name = models.CharField(_("名称"), max_length=100, blank=True, default="")
    # Points are stored in hundredths.
    balance = models.BigIntegerField(_("余额（百分之一分）"), default=0)
    held = models.BigIntegerField(_("冻结（百分之一分）"), default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("积分账户")
        verbose_name_plural = _("积分账户")
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="person") | Q(balance__gte=0),
                name="timebank_person_balance_not_negative",
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="timebank_held_not_negative"),
            models.CheckConstraint(
                condition=~Q(kind="person") | Q(person__isnull=False),
                name="timebank_person_account_has_person",
            ),
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(kind="person"),
                name="timebank_one_account_per_person",
            ),
            models.UniqueConstraint(
                fields=["community"],
                condition=Q(kind="community"),
                name="timebank_one_issuing_account_per_community",
            ),
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(kind="system"),
                name="timebank_system_account_code_unique",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == AccountKind.PERSON and self.person_id:
            return f"{self.get_kind_display()} #{self.pk} ({self.person_id})"
        return f"{self.get_kind_display()} #{self.pk} {self.code or self.name}".strip()

    @property
    def available(self) -> int:
        return self.balance - self.held


class TransactionKind(models.TextChoices):
    SERVICE_CREDIT = "service_credit", _("服务积分")
    SERVICE_PAYMENT = "service_payment", _("积分支付服务")
    TRANSFER = "transfer", _("转账")
    REVERSAL = "reversal", _("冲正")
    MANUAL = "manual", _("纸质登记")
    BIRTHDAY = "birthday", _("生日赠分")
    REFERRAL = "referral", _("推荐奖励")
    PENALTY = "penalty", _("爽约扣分")
    REDEMPTION = "redemption", _("商户抵扣")
    VOUCHER = "voucher", _("会员服务券")
    OTHER = "other", _("其他")


class Transaction(AppendOnlyModel):
    kind = models.CharField(_("类型"), max_length=32, choices=TransactionKind.choices)
    memo = models.CharField(_("摘要"), max_length=200, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Mostly empty: indexed only where set (Meta.indexes), one index entry less per posting.
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("代表"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    community = models.ForeignKey(
        "orgs.Community",
        verbose_name=_("社区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("时间"), db_index=True)
    # Unique through Meta.constraints (a unique=True CharField would add a second, LIKE index).
    idempotency_key = models.CharField(_("幂等键"), max_length=128)
    reverses = models.OneToOneField(
        "self",
        verbose_name=_("冲正的交易"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
    )
    reason = models.CharField(_("原因"), max_length=500, blank=True, default="")
    evidence = models.TextField(_("证据"), blank=True, default="")
    # Minutes of service this transaction pays for (service credits and paper-ledger service);
    # levels count hours served, which a doubled first-service-day credit must not inflate.
    service_minutes = models.PositiveIntegerField(_("服务分钟数"), default=0)
    # What the entry was for, machine-readable ("need:12", "paper:A-0031", "redemption:7").
    # Indexed only where set (Meta.indexes): most transfers have none.
    reference = models.CharField(_("关联"), max_length=100, blank=True, default="")

    class Meta:
        verbose_name = _("积分交易")
        verbose_name_plural = _("积分交易")
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="timebank_transaction_key"),
            models.CheckConstraint(
                condition=~Q(idempotency_key=""), name="timebank_transaction_key_not_empty"
            ),
        ]
        indexes = [
            models.Index(
                fields=["reference"], condition=~Q(reference=""), name="timebank_tx_reference"
            ),
            models.Index(
                fields=["on_behalf_of"],
                condition=Q(on_behalf_of__isnull=False),
                name="timebank_tx_on_behalf_of",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class Posting(AppendOnlyModel):
    transaction = models.ForeignKey(
        Transaction, verbose_name=_("交易"), on_delete=models.PROTECT, related_name="postings"
    )
    account = models.ForeignKey(
        Account, verbose_name=_("账户"), on_delete=models.PROTECT, related_name="postings"
    )
    # Signed hundredths of a point; positive credits the account.
    amount = models.BigIntegerField(_("金额（百分之一分）"))
    # Not indexed: the per-community books are read whole (reconcile_ledger groups every posting).
    community = models.ForeignKey(
        "orgs.Community",
        verbose_name=_("社区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = _("分录")
        verbose_name_plural = _("分录")
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="timebank_posting_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.amount}"


class Hold(models.Model):
    """Points of a person's account set aside (``Account.held``) without leaving it."""

    account = models.ForeignKey(
        Account, verbose_name=_("账户"), on_delete=models.PROTECT, related_name="holds"
    )
    amount = models.BigIntegerField(_("金额（百分之一分）"))
    idempotency_key = models.CharField(_("幂等键"), max_length=128, unique=True)
    memo = models.CharField(_("摘要"), max_length=200, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("时间"))
    released_at = models.DateTimeField(_("释放时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("积分冻结")
        verbose_name_plural = _("积分冻结")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="timebank_hold_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.amount}"


class ServiceDay(models.Model):
    """A community's first-service day (首存日): service credited for that day is multiplied by
    ``timebank.first_service_day_multiplier``."""

    community = models.ForeignKey(
        "orgs.Community",
        verbose_name=_("社区"),
        on_delete=models.CASCADE,
        related_name="service_days",
    )
    date = models.DateField(_("日期"))
    name = models.CharField(_("名称"), max_length=100, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("设置人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("首存日")
        verbose_name_plural = _("首存日")
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "date"], name="timebank_one_service_day_per_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.community_id} {self.date}"
