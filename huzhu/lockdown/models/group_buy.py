"""Group buys (团购), their items, the households' orders and the deliveries to the doors.

Money is integer fen (分), never a float. An item's ``sold`` counter is the stock taken by the
live orders; a check constraint keeps it within ``stock`` in the database itself, and orders
take stock with a conditional UPDATE (huzhu.lockdown.actions.orders), so stock is never
oversold, not even by concurrent orders on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from huzhu.core.models import TimeStampedModel


class GroupBuyState(models.TextChoices):
    DRAFT = "draft", _("草稿")
    OPEN = "open", _("接龙中")
    CLOSED = "closed", _("已截单")
    ARRIVED = "arrived", _("已到货")
    DELIVERING = "delivering", _("配送中")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class GroupBuy(TimeStampedModel):
    """One group buy of a supplier's goods for the households of some buildings."""

    community = models.ForeignKey(
        "orgs.Community",
        on_delete=models.PROTECT,
        related_name="group_buys",
        verbose_name=_("社区"),
    )
    group = models.ForeignKey(
        "orgs.Group",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="group_buys",
        verbose_name=_("负责小组"),
    )
    logistics_group = models.ForeignKey(
        "orgs.Group",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("物流组"),
    )
    leader = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("团长")
    )
    title = models.CharField(_("名称"), max_length=100)
    supplier_name = models.CharField(_("供应商"), max_length=100)
    supplier_contact = models.CharField(_("供应商联系方式"), max_length=100, blank=True)
    buildings = models.ManyToManyField(
        "orgs.Building", related_name="group_buys", verbose_name=_("覆盖楼栋")
    )
    deadline = models.DateTimeField(_("截单时间"), db_index=True)
    delivery_date = models.DateField(_("预计送达日期"), null=True, blank=True)
    state = models.CharField(
        _("状态"), max_length=12, choices=GroupBuyState.choices, default=GroupBuyState.DRAFT
    )
    supplier_bill_fen = models.BigIntegerField(_("供应商账单（分）"), null=True, blank=True)
    open_key = models.CharField(max_length=128, editable=False)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("团购")
        verbose_name_plural = _("团购")
        ordering = ["-deadline", "-pk"]
        indexes = [models.Index(fields=["community", "state"])]
        constraints = [
            models.UniqueConstraint(fields=["leader", "open_key"], name="groupbuy_unique_key"),
        ]

    def __str__(self) -> str:
        return self.title

    def policy_scope(self) -> Any:
        """Where the group buy sits: its community and the group running it (and above)."""
        from huzhu.accounts.policy import Scope

        community = self.community
        groups: tuple[int, ...] = ()
        if self.group is not None:
            groups = (self.group.pk, *self.group.ancestor_ids())
        return Scope(community.alliance_id, community.pk, None, groups)

    @property
    def is_open(self) -> bool:
        return self.state == GroupBuyState.OPEN


class GroupBuyItem(models.Model):
    """A product of the group buy: unit price in fen, optional stock and limits."""

    group_buy = models.ForeignKey(GroupBuy, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(_("商品"), max_length=100)
    unit = models.CharField(_("单位"), max_length=20)
    price_fen = models.PositiveIntegerField(_("单价（分）"))
    stock = models.PositiveIntegerField(_("库存"), null=True, blank=True)  # None: unlimited
    sold = models.PositiveIntegerField(_("已订"), default=0)
    per_household_max = models.PositiveIntegerField(_("每户限购"), null=True, blank=True)
    min_total = models.PositiveIntegerField(_("成团数量"), default=0)

    class Meta:
        verbose_name = _("团购商品")
        verbose_name_plural = _("团购商品")
        ordering = ["group_buy_id", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stock__isnull=True) | models.Q(sold__lte=models.F("stock")),
                name="groupbuyitem_never_oversold",
            ),
            models.UniqueConstraint(fields=["group_buy", "name"], name="groupbuyitem_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.unit}）"

    @property
    def remaining(self) -> int | None:
        return None if self.stock is None else self.stock - self.sold


class OrderState(models.TextChoices):
    PLACED = "placed", _("已下单")
    CANCELLED = "cancelled", _("已取消")


class Order(TimeStampedModel):
    """A household's order in a group buy: one per household, edited until the deadline."""

    group_buy = models.ForeignKey(GroupBuy, on_delete=models.PROTECT, related_name="orders")
    household = models.ForeignKey(
        "accounts.Household", on_delete=models.PROTECT, related_name="group_buy_orders"
    )
    building = models.ForeignKey("orgs.Building", on_delete=models.PROTECT, related_name="+")
    placed_by = models.ForeignKey("accounts.Person", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(
        _("状态"), max_length=12, choices=OrderState.choices, default=OrderState.PLACED
    )
    total_fen = models.BigIntegerField(_("金额（分）"), default=0)
    # The key of the request that placed the order and of the last edit (replays answer the
    # order as it stands).
    key = models.CharField(max_length=128)
    last_key = models.CharField(max_length=128)
    placed_at = models.DateTimeField(db_index=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("团购订单")
        verbose_name_plural = _("团购订单")
        ordering = ["group_buy_id", "building_id", "household_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group_buy", "household"], name="order_one_per_household"
            ),
        ]
        indexes = [models.Index(fields=["group_buy", "state", "building"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.group_buy_id}/{self.household_id}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(GroupBuyItem, on_delete=models.PROTECT, related_name="lines")
    quantity = models.PositiveIntegerField(_("数量"))
    price_fen = models.PositiveIntegerField(_("单价（分）"))

    class Meta:
        verbose_name = _("订单明细")
        verbose_name_plural = _("订单明细")
        constraints = [
            models.UniqueConstraint(fields=["order", "item"], name="orderline_unique_item"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="orderline_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}×{self.quantity}"

    @property
    def amount_fen(self) -> int:
        return self.quantity * self.price_fen


class Delivery(TimeStampedModel):
    """Delivering one household's order to its door (送货上门)."""

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="delivery")
    group_buy = models.ForeignKey(GroupBuy, on_delete=models.PROTECT, related_name="deliveries")
    building = models.ForeignKey("orgs.Building", on_delete=models.PROTECT, related_name="+")
    volunteer = models.ForeignKey(
        "accounts.Person",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="group_buy_deliveries",
        verbose_name=_("配送志愿者"),
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)
    delivered_by = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    contactless = models.BooleanField(_("无接触配送"), default=True)
    photo_path = models.CharField(_("照片"), max_length=255, blank=True)
    confirmed_at = models.DateTimeField(_("居民确认收货时间"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("配送")
        verbose_name_plural = _("配送")
        ordering = ["group_buy_id", "building_id", "order_id"]
        indexes = [models.Index(fields=["volunteer", "delivered_at"])]
