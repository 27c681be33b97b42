"""The demo logins: one person per role, printed by ``manage.py load_demo`` as a table."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from huzhu.accounts.models import Gender

DEMO_PASSWORD = "huzhu-demo-2022"  # noqa: S105 - the documented password of the demo logins


@dataclass(frozen=True)
class DemoLogin:
    key: str
    label_zh: str
    label_en: str
    phone: str
    name: str
    gender: str


LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("resident", "居民", "Resident", "13800000001", "张桂英", Gender.FEMALE),
    DemoLogin("volunteer", "志愿者", "Volunteer", "13800000002", "李志强", Gender.MALE),
    DemoLogin(
        "building_manager",
        "楼长（1号楼）",
        "Building manager (Bldg 1)",
        "13800000003",
        "陈晓岚",
        Gender.FEMALE,
    ),
    DemoLogin(
        "group_leader",
        "组长（团长组）",
        "Group leader (Group-buy leaders)",
        "13800000005",
        "周建国",
        Gender.MALE,
    ),
    DemoLogin(
        "group_member",
        "组员（物流组）",
        "Group member (Logistics)",
        "13800000004",
        "吴海涛",
        Gender.MALE,
    ),
    DemoLogin(
        "broker", "公益经纪人", "Social-welfare broker", "13800000006", "郑丽萍", Gender.FEMALE
    ),
    DemoLogin("branch_head", "分会负责人", "Branch head", "13800000007", "王建华", Gender.MALE),
    DemoLogin(
        "finance_officer", "财务专员", "Finance officer", "13800000008", "刘静", Gender.FEMALE
    ),
    DemoLogin("merchant", "商家", "Merchant", "13800000009", "孙德胜", Gender.MALE),
    DemoLogin(
        "district_admin", "街道管理员", "District admin", "13800000010", "黄晓峰", Gender.MALE
    ),
    DemoLogin(
        "superuser",
        "超级管理员（/admin/）",
        "Superuser (/admin/)",
        "13800000000",
        "系统管理员",
        Gender.UNSPECIFIED,
    ),
)
_LOGIN = {login.key: login for login in LOGINS}


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _display_width(text))


def login_table() -> str:
    """The demo logins as a text table (role in Chinese and English, phone, password)."""
    header = ("角色", "Role", "手机号 / Phone", "密码 / Password")
    rows = [header] + [(lg.label_zh, lg.label_en, lg.phone, DEMO_PASSWORD) for lg in LOGINS]
    widths = [max(_display_width(row[i]) for row in rows) for i in range(len(header))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line]
    for n, row in enumerate(rows):
        out.append("| " + " | ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            out.append(line)
    out.append(line)
    return "\n".join(out)
