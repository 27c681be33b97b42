"""Settings-as-data: the domain numbers of DOMAIN.md, each registered once with its default.

A value is resolved up the tree: building → community → alliance → registered default.
Overrides are rows of ``orgs.SettingOverride``; this module holds only the definitions, so the
kernel does not depend on the org tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from huzhu.core.errors import DomainError

Value = int | Decimal


@dataclass(frozen=True)
class SettingDef:
    key: str
    default: Value
    label: str | Promise
    help_text: str | Promise
    unit: str | Promise
    minimum: Value
    maximum: Value
    group: str | Promise

    @property
    def kind(self) -> type:
        return Decimal if isinstance(self.default, Decimal) else int

    def parse(self, raw: object) -> Value:
        """Parse and validate a value; a bad value raises DomainError with a localized message."""
        try:
            value: Value
            if self.kind is Decimal:
                value = Decimal(str(raw).strip())
                if not value.is_finite():
                    raise InvalidOperation
            else:
                text = str(raw).strip()
                if not text.lstrip("-").isdigit():
                    raise ValueError(text)
                value = int(text)
        except (InvalidOperation, ValueError):
            raise DomainError(
                "core.setting.invalid",
                _("“%(label)s”的值无效，请输入数字。") % {"label": self.label},
                details={"key": self.key},
            ) from None
        if value < self.minimum or value > self.maximum:
            raise DomainError(
                "core.setting.out_of_range",
                _("“%(label)s”必须在 %(min)s 到 %(max)s 之间。")
                % {"label": self.label, "min": self.minimum, "max": self.maximum},
                details={"key": self.key},
            )
        return value

    def to_storage(self, value: Value) -> str:
        return str(value)


REGISTRY: dict[str, SettingDef] = {}


def register(
    key: str,
    default: Value,
    label: str | Promise,
    *,
    help_text: str | Promise = "",
    unit: str | Promise = "",
    minimum: Value = 0,
    maximum: Value = 1_000_000,
    group: str | Promise = "",
) -> SettingDef:
    if key in REGISTRY:
        raise ValueError(f"setting {key} registered twice")
    definition = SettingDef(key, default, label, help_text, unit, minimum, maximum, group)
    REGISTRY[key] = definition
    return definition


def definition(key: str) -> SettingDef:
    try:
        return REGISTRY[key]
    except KeyError:
        raise DomainError(
            "core.setting.unknown", _("未知的设置项：%(key)s") % {"key": key}
        ) from None


_SERVICE = _("服务流程")
_BANK = _("时间银行")
_MONEY = _("会员与财务")
_ACT = _("活动与投诉")

# The core loop (DOMAIN.md "The core loop").
register(
    "needs.review_minutes",
    30,
    _("需求审核时限"),
    unit=_("分钟"),
    minimum=1,
    maximum=10_080,
    group=_SERVICE,
    help_text=_("楼长须在此时间内审核新需求，超时上报。"),
)
register(
    "needs.accept_hours",
    2,
    _("接单时限"),
    unit=_("小时"),
    minimum=1,
    maximum=168,
    group=_SERVICE,
    help_text=_("志愿者须在此时间内接单，否则重新匹配或上报。"),
)
register(
    "needs.cancel_notice_hours",
    2,
    _("取消提前量"),
    unit=_("小时"),
    minimum=0,
    maximum=168,
    group=_SERVICE,
)
register(
    "needs.volunteer_load_limit",
    3,
    _("志愿者同时服务上限"),
    unit=_("单"),
    minimum=1,
    maximum=20,
    group=_SERVICE,
    help_text=_("已接单未完成的服务达到此数的志愿者不再被推荐。"),
)
register(
    "needs.auto_offer_count",
    3,
    _("自动派单人数"),
    unit=_("人"),
    minimum=1,
    maximum=20,
    group=_SERVICE,
    help_text=_("无人手动挑选时，自动邀请排名前几位的志愿者。"),
)
register(
    "needs.malicious_cancel_freeze_days",
    30,
    _("恶意取消冻结天数"),
    unit=_("天"),
    minimum=0,
    maximum=365,
    group=_SERVICE,
)
register(
    "needs.evidence_photo_max_mb",
    10,
    _("服务照片大小上限"),
    unit=_("MB"),
    minimum=1,
    maximum=50,
    group=_SERVICE,
    help_text=_("志愿者上传的服务照片（JPEG、PNG、WebP）不能超过此大小。"),
)
register(
    "needs.evidence_video_max_mb",
    100,
    _("服务视频大小上限"),
    unit=_("MB"),
    minimum=1,
    maximum=500,
    group=_SERVICE,
    help_text=_("志愿者上传的服务视频（MP4、MOV）不能超过此大小。"),
)
# The time bank (DOMAIN.md "The time bank").
register(
    "timebank.points_per_hour",
    1,
    _("每小时服务积分"),
    unit=_("分"),
    minimum=1,
    maximum=100,
    group=_BANK,
)
register(
    "timebank.first_service_day_multiplier",
    2,
    _("首存日积分倍数"),
    minimum=1,
    maximum=10,
    group=_BANK,
)
register("timebank.no_show_penalty", 5, _("爽约扣分"), unit=_("分"), maximum=100, group=_BANK)
register("timebank.birthday_gift", 2, _("生日赠分"), unit=_("分"), maximum=100, group=_BANK)
register("timebank.referral_reward", 20, _("推荐奖励"), unit=_("分"), maximum=1000, group=_BANK)
register(
    "timebank.yuan_per_point",
    Decimal("3"),
    _("每积分抵扣金额"),
    unit=_("元"),
    minimum=Decimal("0.01"),
    maximum=Decimal("1000"),
    group=_BANK,
)
register(
    "timebank.max_yuan_per_purchase",
    Decimal("30"),
    _("单次消费抵扣上限"),
    unit=_("元"),
    minimum=Decimal("0"),
    maximum=Decimal("10000"),
    group=_BANK,
)
register(
    "timebank.leaderboard_day",
    5,
    _("排行榜发布日"),
    unit=_("日"),
    minimum=1,
    maximum=28,
    group=_BANK,
)
register(
    "timebank.dispute_working_days",
    3,
    _("争议更正时限"),
    unit=_("个工作日"),
    minimum=1,
    maximum=30,
    group=_BANK,
)
# Members, merchants, money (DOMAIN.md).
register("members.trial_fee", Decimal("100"), _("体验会员年费"), unit=_("元"), group=_MONEY)
register("members.cocreate_fee", Decimal("1000"), _("共创会员年费"), unit=_("元"), group=_MONEY)
register("members.cocreate_first_n", 50, _("共创会员首批名额"), unit=_("人"), group=_MONEY)
register(
    "members.level_hours", 10, _("每升一级所需服务时长"), unit=_("小时"), minimum=1, group=_MONEY
)
register(
    "members.level_referrals", 3, _("每升一级所需推荐人数"), unit=_("人"), minimum=1, group=_MONEY
)
register(
    "members.expiry_reminder_days",
    30,
    _("会员到期提前提醒"),
    unit=_("天"),
    minimum=1,
    maximum=90,
    group=_MONEY,
)
register(
    "members.benefit_reminder_day",
    5,
    _("每月权益提醒截止日"),
    unit=_("日"),
    minimum=1,
    maximum=28,
    group=_MONEY,
)
register(
    "merchants.fee_percent_min",
    Decimal("3"),
    _("商家管理费下限"),
    unit="%",
    maximum=Decimal("100"),
    group=_MONEY,
)
register(
    "merchants.fee_percent_max",
    Decimal("5"),
    _("商家管理费上限"),
    unit="%",
    maximum=Decimal("100"),
    group=_MONEY,
)
register(
    "finance.branch_head_limit", Decimal("500"), _("分会负责人审批上限"), unit=_("元"), group=_MONEY
)
register(
    "finance.core_team_limit", Decimal("5000"), _("核心团队审批上限"), unit=_("元"), group=_MONEY
)
register(
    "finance.core_team_signatures",
    2,
    _("核心团队签字人数"),
    unit=_("人"),
    minimum=1,
    maximum=20,
    group=_MONEY,
)
register(
    "finance.representatives",
    10,
    _("会员代表人数"),
    unit=_("人"),
    minimum=1,
    maximum=200,
    group=_MONEY,
)
register(
    "finance.disclosure_day", 10, _("财务公示日"), unit=_("日"), minimum=1, maximum=28, group=_MONEY
)
# Activities and complaints (DOMAIN.md "Activities, complaints, safety").
register("activities.max_budget", Decimal("2000"), _("活动预算上限"), unit=_("元"), group=_ACT)
register(
    "activities.publicity_days", 7, _("活动提前宣传天数"), unit=_("天"), maximum=90, group=_ACT
)
register(
    "activities.summary_hours",
    24,
    _("活动总结时限"),
    unit=_("小时"),
    minimum=1,
    maximum=720,
    group=_ACT,
)
register(
    "complaints.contact_hours",
    1,
    _("投诉联系时限"),
    unit=_("小时"),
    minimum=1,
    maximum=72,
    group=_ACT,
)
register(
    "complaints.result_hours",
    24,
    _("投诉处理时限"),
    unit=_("小时"),
    minimum=1,
    maximum=720,
    group=_ACT,
)
register(
    "complaints.suspension_days", 7, _("违规暂停服务天数"), unit=_("天"), maximum=365, group=_ACT
)
register(
    "complaints.max_points_deduction",
    20,
    _("投诉扣分上限"),
    unit=_("分"),
    minimum=0,
    maximum=1000,
    group=_ACT,
    help_text=_("投诉成立时，处理人每次最多可从被投诉人扣除的积分；具体扣多少由处理人视情节决定。"),
)
register(
    "complaints.malicious_freeze_days",
    30,
    _("恶意投诉冻结天数"),
    unit=_("天"),
    minimum=0,
    maximum=365,
    group=_ACT,
    help_text=_("认定为恶意投诉后，投诉人在此期间不能发布求助或投诉。"),
)
