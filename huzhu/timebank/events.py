"""The time bank's event texts (title, body), rendered in the recipient's language by
``huzhu.notify.render``; registered from ``TimebankConfig.ready``."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

EVENTS: dict[str, tuple[Promise, Promise]] = {
    "timebank.membership.joined": (
        gettext_lazy("欢迎成为%(tier)s"),
        gettext_lazy("你已成为%(community)s的%(tier)s，有效期至 %(ends_on)s。"),
    ),
    "timebank.membership.renewed": (
        gettext_lazy("会员已续费"),
        gettext_lazy("你的%(tier)s已续费，有效期至 %(ends_on)s。"),
    ),
    "timebank.membership.expiring": (
        gettext_lazy("会员即将到期"),
        gettext_lazy("你的%(tier)s将于 %(ends_on)s 到期，请及时续费。"),
    ),
    "timebank.membership.level_up": (
        gettext_lazy("会员等级提升到 %(level)s 级"),
        gettext_lazy("恭喜！你的会员等级已提升到 %(level)s 级。当前权益：%(benefits)s"),
    ),
    "timebank.membership.benefits": (
        gettext_lazy("本月会员权益提醒"),
        gettext_lazy("你是 %(level)s 级%(tier)s，本月可享权益：%(benefits)s"),
    ),
    "timebank.referral.rewarded": (
        gettext_lazy("推荐奖励 %(points)s 积分"),
        gettext_lazy("你推荐的朋友已入会，奖励 %(points)s 积分已到账。"),
    ),
    "timebank.birthday.gift": (
        gettext_lazy("生日快乐！"),
        gettext_lazy("祝你生日快乐！生日礼物 %(points)s 积分已到账。"),
    ),
    "timebank.redemption.done": (
        gettext_lazy("积分抵扣成功：%(merchant)s"),
        gettext_lazy(
            "你在%(merchant)s消费 %(purchase)s 元，使用 %(points)s 积分抵扣 %(discount)s 元，"
            "实付 %(pay)s 元。时间：%(at)s。"
        ),
    ),
}
