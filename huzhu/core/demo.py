"""The demo world loaded by ``manage.py load_demo``.

An alliance with two communities. The first is the compound of seed 000 (a Putuo compound of
60 buildings with about 120 households each, and the volunteer groups 中台 (外联组, 采购/财务组),
运营, 供应链 (团长组, 物流组), 风控消杀 and 客服关爱); the second is small.

Everything comes from one seeded random generator, so a seed always gives the same people,
numbers, skills and groups. All rows are written with ``bulk_create`` (encrypted fields encrypt
in ``get_prep_value``, so bulk inserts store ciphertext like ``save()`` does). The loader writes no
audit entries: audit rows can never be deleted, and a demo database is started over by deleting
it, not by a reset command.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import transaction

from huzhu.accounts import pii
from huzhu.accounts.models import (
    AvailabilitySlot,
    Certificate,
    Gender,
    Household,
    Person,
    PersonSkill,
    Role,
    RoleGrant,
    ScopeKind,
    Skill,
    Status,
)
from huzhu.core import clock
from huzhu.orgs.models import Alliance, Building, Community, Group, JobDescription

DEFAULT_SEED = 2022
DEMO_PASSWORD = "huzhu-demo-2022"  # noqa: S105 - the documented password of the demo logins
ALLIANCE_NAME = "普陀互助联盟"
ALLIANCE_NAME_EN = "Putuo Mutual Aid Alliance"
BATCH = 500

# --------------------------------------------------------------------------------------------
# Plans: how big each community is.


@dataclass(frozen=True)
class CommunityPlan:
    name: str
    name_en: str
    district: str
    address: str
    latitude: float
    longitude: float
    buildings: int
    floors: int
    rooms_per_floor: int
    volunteers: int
    residents: int
    managed_buildings: tuple[int, ...]  # building numbers that get a building manager
    group_size: tuple[int, int]  # members per leaf functional group (min, max)
    has_groups: bool


def _plans(small: bool) -> tuple[CommunityPlan, CommunityPlan]:
    if small:
        return (
            CommunityPlan(
                "长风花园",
                "Changfeng Garden",
                "普陀区长风新村街道",
                "上海市普陀区云岭东路 288 弄",
                31.25,
                121.40,
                buildings=4,
                floors=3,
                rooms_per_floor=2,
                volunteers=30,
                residents=12,
                managed_buildings=(1, 2, 3, 4),
                group_size=(1, 2),
                has_groups=True,
            ),
            CommunityPlan(
                "桃浦新苑",
                "Taopu Xinyuan",
                "普陀区桃浦镇",
                "上海市普陀区真南路 4518 弄",
                31.282,
                121.372,
                buildings=2,
                floors=2,
                rooms_per_floor=2,
                volunteers=8,
                residents=4,
                managed_buildings=(1,),
                group_size=(0, 0),
                has_groups=False,
            ),
        )
    return (
        CommunityPlan(
            "长风花园",
            "Changfeng Garden",
            "普陀区长风新村街道",
            "上海市普陀区云岭东路 288 弄",
            31.25,
            121.40,
            buildings=60,
            floors=20,
            rooms_per_floor=6,
            volunteers=300,
            residents=240,
            managed_buildings=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 22, 31, 44, 57),
            group_size=(6, 10),
            has_groups=True,
        ),
        CommunityPlan(
            "桃浦新苑",
            "Taopu Xinyuan",
            "普陀区桃浦镇",
            "上海市普陀区真南路 4518 弄",
            31.282,
            121.372,
            buildings=8,
            floors=6,
            rooms_per_floor=4,
            volunteers=60,
            residents=60,
            managed_buildings=(1, 2, 3),
            group_size=(0, 0),
            has_groups=False,
        ),
    )


# --------------------------------------------------------------------------------------------
# The skill taxonomy (editable data; these are the starting entries).


@dataclass(frozen=True)
class SkillSpec:
    code: str
    name: str
    name_en: str
    category: str
    requires_certificate: bool
    weight: float  # how common the skill is among the demo volunteers
    issuer: str = ""
    number_prefix: str = ""


SKILLS: tuple[SkillSpec, ...] = (
    SkillSpec("haircut", "理发", "Haircut", "生活服务", False, 4),
    SkillSpec("clinic_escort", "陪诊", "Clinic escort", "医疗健康", False, 8),
    SkillSpec("shopping", "代购", "Shopping", "生活服务", False, 12),
    SkillSpec("repair", "维修", "Repair", "生活服务", False, 6),
    SkillSpec("housekeeping", "家政", "Housekeeping", "生活服务", False, 6),
    SkillSpec(
        "counselling", "心理咨询", "Counselling", "专业服务", True, 2, "上海市心理卫生学会", "XL"
    ),
    SkillSpec("doctor", "医生", "Doctor", "医疗健康", True, 1.5, "上海市卫生健康委员会", "110310"),
    SkillSpec("social_worker", "社工", "Social worker", "专业服务", True, 2, "上海市民政局", "SG"),
    SkillSpec("driving", "驾驶", "Driving", "出行搬运", False, 6),
    SkillSpec("lifting", "搬运", "Lifting", "出行搬运", False, 8),
    SkillSpec("nursing", "护理", "Nursing care", "医疗健康", False, 4),
    SkillSpec("computer", "电脑", "Computer help", "专业服务", False, 6),
    SkillSpec("foreign_language", "外语", "Foreign language", "专业服务", False, 3),
    SkillSpec("cooking", "烹饪", "Cooking", "生活服务", False, 6),
    SkillSpec("disinfection", "消杀", "Disinfection", "防疫", False, 6),
)
_SKILL_BY_CODE = {s.code: s for s in SKILLS}


# --------------------------------------------------------------------------------------------
# Functional groups of seed 000 and their job descriptions (岗位说明书).


@dataclass(frozen=True)
class JobText:
    title: str
    purpose: str
    duties: str
    workflow: str
    howto: str


@dataclass(frozen=True)
class GroupSpec:
    name: str
    name_en: str
    parent: str | None
    description: str
    job: JobText


GROUPS: tuple[GroupSpec, ...] = (
    GroupSpec(
        "中台",
        "Middle Office",
        None,
        "连接楼组与居委、物业、供应商，统筹对外联络和采购账目，为其他各组提供支撑。",
        JobText(
            "中台组长 / 组员",
            "做各组之间和小区内外之间的“接线员”：外面的信息进得来，里面的需求出得去，"
            "钱和物都有人管、有账可查。",
            "1. 汇总各组每天遇到的问题，分给对应的小组并跟踪到有答复；\n"
            "2. 维护志愿者名册和组织架构图，新人加入时安排到合适的组；\n"
            "3. 组织 SOP 的修订：收集居民和志愿者的建议，定期发布新版本（1.0、2.0……）；\n"
            "4. 指导外联组和采购/财务组的工作，重大事项报楼长和分会负责人。",
            "每日固定时间线上碰头 → 各组报告进展和卡点 → 中台分派并记录负责人 → "
            "次日碰头时逐条核对是否已答复。",
            "在平台的“职能组”页面查看各组成员；需要找人时先看岗位说明书再联系组长；"
            "SOP 修订意见统一记录，不在群里零散讨论。",
        ),
    ),
    GroupSpec(
        "外联组",
        "Outreach",
        "中台",
        "对接居委会、物业、街道、医院和公益组织，把外部通知和资源带进小区。",
        JobText(
            "外联组组员",
            "让小区和外部机构之间的沟通只有一个口子，通知准确、请求有人跟进。",
            "1. 对接居委会、物业和街道，核实并转达防疫政策和通知；\n"
            "2. 联系保供企业、爱心捐赠和公益组织等外部资源；\n"
            "3. 帮居民联系居委会或医院等机构，记录每次沟通的结果；\n"
            "4. 把外部答复回给提问的居民或楼长，做到每个请求都有回音。",
            "收到请求 → 登记请求人和事项 → 联系对应机构 → 记录答复 → 回复请求人 → 结案。",
            "对外联系时说明自己是本小区志愿者，不替机构做承诺；"
            "涉及居民个人信息时只提供办事必需的内容。",
        ),
    ),
    GroupSpec(
        "采购/财务组",
        "Procurement & Finance",
        "中台",
        "询价比价、核对供应商，管好团购资金的收付和对账，并按时公示。",
        JobText(
            "采购/财务组组员",
            "让每一笔钱来得清楚、花得明白，居民随时可以查账。",
            "1. 为团购和公共物资询价、比价，核对供应商资质；\n"
            "2. 登记每一笔收款和付款，保留凭证；\n"
            "3. 到货后对照订单核对数量和金额，缺货、少货及时退款或补发；\n"
            "4. 定期公示收支明细，接受居民监督。",
            "确定需求 → 至少两家询价 → 组长确认 → 下单付款并登记 → 到货核对 → 差额退补 → 公示。",
            "收付款只用小区公开的账户或平台记录，不经个人转账；"
            "所有支出按金额走审批（500 元以内分会负责人批准，以上按规则多人签字）。",
        ),
    ),
    GroupSpec(
        "运营",
        "Operations",
        None,
        "管好业主群里的信息：发布通知、收集问题、维护 SOP，组织核酸检测叫号。",
        JobText(
            "运营组组员",
            "让居民不用到处问：什么时候做核酸、团购什么时候到、哪件事找谁，都能一眼看到。",
            "1. 每天发布公告：下一次核酸时间、团购到货时间、各组分工；\n"
            "2. 收集群里的问题，按类别转给负责的小组，并把答复统一发出；\n"
            "3. 维护日常防疫、团购配送、核酸检测的 SOP 文档；\n"
            "4. 核酸检测时按楼层叫号，提醒居民提前做好准备，统计未检测人员。",
            "收集问题 → 判断归属小组 → 转交并登记 → 得到答复 → 在群里统一发布 → "
            "把常见问题补进 SOP。",
            "同一个问题只回答一次，回答后放进常见问题；"
            "叫号按楼层从高到低，每批人数不超过现场能容纳的数量。",
        ),
    ),
    GroupSpec(
        "供应链",
        "Supply Chain",
        None,
        "统筹团购从开团到送达的全过程，下设团长组和物流组。",
        JobText(
            "供应链组长",
            "让居民买得到、送得到：团购有人开、货有人接、送到每一户门口。",
            "1. 协调团长组和物流组的节奏，避免同一时间段到货过多；\n"
            "2. 跟踪每个团购的进度：开团、截单、下单、到货、分拣、送达；\n"
            "3. 处理配送中的异常（缺货、破损、送错），必要时请采购/财务组退补。",
            "开团计划 → 截单汇总 → 到货时间确认 → 安排物流人手 → 送达确认 → 异常复盘。",
            "每个团购在平台上登记，进度公开；到货前一小时通知物流组到场。",
        ),
    ),
    GroupSpec(
        "团长组",
        "Group-buy Leaders",
        "供应链",
        "有物资渠道的志愿者做团长：开团、收集订单、汇总下单、按楼栋出分拣单。",
        JobText(
            "团长",
            "把分散的需求集中起来，用一个订单向供应商采购，价格和质量都有保障。",
            "1. 开团：写明供应商、商品、价格、起订量和截单时间；\n"
            "2. 收集各户订单，截单后按供应商汇总；\n"
            "3. 到货后按楼栋、楼层生成分拣清单交给物流组；\n"
            "4. 处理缺货和退款，在群里说明原因。",
            "开团 → 接单 → 截单 → 汇总下单 → 到货 → 分拣清单 → 交物流组 → 收货确认 → 对账。",
            "开团前确认供应商能按时送达；截单后不再改单，特殊情况找供应链组长。",
        ),
    ),
    GroupSpec(
        "物流组",
        "Logistics",
        "供应链",
        "接货、核对、消杀外包装、按楼层分拣并送到每户门口。",
        JobText(
            "物流组组员",
            "让到小区的物资尽快、完整、干净地到达每一户。",
            "1. 按通知时间到指定地点接货，核对数量；\n"
            "2. 对外包装消杀后，按楼栋和楼层分拣；\n"
            "3. 送到门口并通知住户取货，住户确认收货；\n"
            "4. 登记破损、缺件和送错，交团长处理。",
            "接货 → 点数 → 消杀 → 分拣 → 送货到门 → 通知住户 → 收货确认 → 异常登记。",
            "搬运注意安全，重物两人一起；送货时不进入住户家中，放在门口后敲门或电话告知。",
        ),
    ),
    GroupSpec(
        "风控消杀",
        "Risk Control & Disinfection",
        None,
        "负责公共区域和物资的消杀，提醒防疫要点，特殊情况按规定保密并上报。",
        JobText(
            "风控消杀组组员",
            "降低楼内传播的风险：公共区域按时消杀，防疫提醒落到每一户。",
            "1. 按时对电梯、楼道、门把手等公共区域消杀并记录；\n"
            "2. 对进楼物资的外包装消杀；\n"
            "3. 提醒居民防疫要点：检查厨房油烟管朝向，防止气溶胶倒灌；"
            "取完物资进门前消杀鞋底；口罩要经常更换；\n"
            "4. 发现阳性或密接情况，只向居委会和楼长报告，不在群里公开个人信息。",
            "制定消杀时间表 → 按表执行 → 记录时间和区域 → 每日汇总 → 发现异常立即上报。",
            "消杀时穿戴好防护，消毒液按说明配比；老人家中需要提醒时可电话或敲门，态度耐心。",
        ),
    ),
    GroupSpec(
        "客服关爱",
        "Resident Care",
        None,
        "解答居民疑问，定期回访独居老人和行动不便的居民，收集意见反馈给各组。",
        JobText(
            "客服关爱组组员",
            "让每位居民的问题都有人回应，特别照顾老人和不会用手机的人。",
            "1. 解答居民在群里或电话里的疑问，答不了的转给负责的小组；\n"
            "2. 定期电话回访独居老人、行动不便者，了解买药、就医、买菜等需要；\n"
            "3. 需要时帮助代购药品或转介陪诊、心理咨询志愿者；\n"
            "4. 收集居民的意见和建议，交运营组补进 SOP。",
            "接到问题或回访发现需求 → 登记 → 能答即答，不能答转交 → 跟进到解决 → 回访确认。",
            "回访时先自我介绍；居民的电话和地址只在办事时使用，不外传；"
            "发现紧急情况先打 120/110，再报楼长。",
        ),
    ),
)

ROLE_JOBS: tuple[tuple[str, JobText], ...] = (
    (
        Role.BUILDING_MANAGER,
        JobText(
            "楼长",
            "做本楼居民的第一联系人：居民有事先找楼长，楼长知道该找谁、能跟进到底。",
            "1. 30 分钟内审核本楼居民发布的需求，不合理的请求说明理由后退回；\n"
            "2. 为不会用手机的老人代录需求和纸质积分；\n"
            "3. 对服务进行抽查（电话或上门），记录结果；\n"
            "4. 第一时间处理投诉，1 小时内联系双方；\n"
            "5. 通知本楼核酸检测、团购到货等安排，统计未检测人员。",
            "收到需求 → 审核 → 平台匹配志愿者 → 跟踪接单和服务 → 抽查 → 居民验收 → 积分到账。",
            "居民的电话、身份证号默认打码；确有需要时点“查看”，每次查看都会记录在审计日志中；"
            "代居民操作时要先取得本人同意。",
        ),
    ),
    (
        Role.BROKER,
        JobText(
            "社会公益经纪人",
            "帮助那些不会或不能自己上网的人，把他们的需要变成平台上的需求，并找到最合适的人。",
            "1. 为老人、残障人士等代录需求，写清时间、地点和特殊要求；\n"
            "2. 从平台推荐的志愿者中挑选最合适的人，说明选择理由；\n"
            "3. 为长期需要的人安排周期性服务，尽量由同一位志愿者持续服务；\n"
            "4. 服务后回访，确认对方满意并在需要时调整安排。",
            "走访或接电话 → 取得同意 → 代录需求 → 选择志愿者 → 跟进服务 → 回访 → 调整或结案。",
            "代录时在平台上选择“代办”，系统会记录是谁代谁操作；"
            "不替居民做决定，重要事项当面或电话确认。",
        ),
    ),
)


# --------------------------------------------------------------------------------------------
# The printed demo logins.


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


def demo_exists() -> bool:
    return Alliance.objects.filter(name=ALLIANCE_NAME).exists()


# --------------------------------------------------------------------------------------------
# Random but valid personal data.

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏"
    "苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严戴莫孔汤"
)
_MALE_CHARS = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林建国志海峰军毅"
_FEMALE_CHARS = "芳娜敏静丽艳娟霞秀玲桂英华兰萍红梅琳燕雪倩婷颖慧莉琴云洁美佳欣雯"
_RELATIONS = ("配偶", "儿子", "女儿", "兄弟", "姐妹", "朋友")
# Area codes of ID numbers: Shanghai districts first, then places many residents come from.
_ID_AREAS = (
    "310107",
    "310107",
    "310107",
    "310101",
    "310104",
    "310105",
    "310106",
    "310109",
    "310110",
    "310112",
    "310113",
    "310115",
    "320102",
    "320583",
    "330106",
    "340104",
    "360102",
    "420106",
    "510107",
    "370102",
)
_PHONE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "199",
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident ID number (GB 11643)."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


class _People:
    """Draws unique, valid phone and ID numbers and plausible names."""

    def __init__(self, rng: random.Random, phone_hashes: set[str], id_hashes: set[str]) -> None:
        self.rng = rng
        self.phone_hashes = phone_hashes  # blind indexes already in the database
        self.id_hashes = id_hashes
        self.phones: set[str] = {lg.phone for lg in LOGINS}
        self.ids: set[str] = set()

    def phone(self) -> str:
        while True:
            number = self.rng.choice(_PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number in self.phones or pii.phone_index(number) in self.phone_hashes:
                continue
            self.phones.add(number)
            return number

    def contact_phone(self) -> str:
        """A valid number for an emergency contact (not an account, need not be unique)."""
        return self.rng.choice(_PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def id_number(self, birth: dt.date, gender: str) -> str:
        while True:
            area = self.rng.choice(_ID_AREAS)
            # The 17th digit is odd for men and even for women.
            seq = self.rng.randrange(500) * 2 + (1 if gender == Gender.MALE else 0)
            first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
            number = first17 + id_check_digit(first17)
            if number in self.ids or pii.id_number_index(number) in self.id_hashes:
                continue
            self.ids.add(number)
            return number

    def gender(self) -> str:
        return Gender.FEMALE if self.rng.random() < 0.55 else Gender.MALE

    def name(self, gender: str) -> str:
        chars = _MALE_CHARS if gender == Gender.MALE else _FEMALE_CHARS
        given = "".join(self.rng.choice(chars) for _ in range(self.rng.choice((1, 2, 2))))
        return self.rng.choice(_SURNAMES) + given

    def birth_date(self, today: dt.date, youngest: int, oldest: int) -> dt.date:
        age_days = self.rng.randint(youngest * 365, oldest * 365)
        return today - dt.timedelta(days=age_days)

    def emergency_contact(self) -> str:
        gender = self.gender()
        return f"{self.name(gender)}（{self.rng.choice(_RELATIONS)}） {self.contact_phone()}"


# --------------------------------------------------------------------------------------------
# The loader.


@dataclass
class DemoResult:
    seed: int
    alliance: Alliance
    communities: list[Community]
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Pending:
    person: Person
    community: Community
    volunteer: bool
    grants: list[tuple[str, Alliance | Community | Building | Group]] = field(default_factory=list)
    skills: list[tuple[str, int]] = field(default_factory=list)
    slots: list[tuple[int, dt.time, dt.time]] = field(default_factory=list)


def _q6(value: float) -> Decimal:
    return Decimal(f"{value:.6f}")


def _grant(person: Person, role: str, node: Alliance | Community | Building | Group) -> RoleGrant:
    """An unsaved grant; bulk_create skips save(), so scope_key is set here."""
    if isinstance(node, Alliance):
        return RoleGrant(
            person=person,
            role=role,
            scope_kind=ScopeKind.ALLIANCE,
            alliance=node,
            scope_key=f"alliance:{node.pk}",
        )
    if isinstance(node, Community):
        return RoleGrant(
            person=person,
            role=role,
            scope_kind=ScopeKind.COMMUNITY,
            community=node,
            scope_key=f"community:{node.pk}",
        )
    if isinstance(node, Building):
        return RoleGrant(
            person=person,
            role=role,
            scope_kind=ScopeKind.BUILDING,
            community_id=node.community_id,
            building=node,
            scope_key=f"building:{node.pk}",
        )
    return RoleGrant(
        person=person,
        role=role,
        scope_kind=ScopeKind.GROUP,
        community_id=node.community_id,
        group=node,
        scope_key=f"group:{node.pk}",
    )


class _Loader:
    def __init__(self, seed: int, small: bool) -> None:
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - deterministic demo data, not security
        self.plans = _plans(small)
        self.now = clock.now()
        self.today = clock.today()
        self.password_hash = make_password(DEMO_PASSWORD)  # one hash for every demo person
        self.gen = _People(
            self.rng,
            set(Person.objects.values_list("phone_hash", flat=True)),
            {h for h in Person.objects.values_list("id_number_hash", flat=True) if h},
        )
        taken = [lg.phone for lg in LOGINS if pii.phone_index(lg.phone) in self.gen.phone_hashes]
        if taken:
            raise ValueError(f"demo login phone numbers already registered: {', '.join(taken)}")
        self.pending: list[_Pending] = []
        self.counts: dict[str, int] = {}

    # -- tree --------------------------------------------------------------------------------

    def skills(self) -> dict[str, Skill]:
        out: dict[str, Skill] = {}
        for spec in SKILLS:
            skill, _created = Skill.objects.update_or_create(
                code=spec.code,
                defaults={
                    "name": spec.name,
                    "name_en": spec.name_en,
                    "category": spec.category,
                    "requires_certificate": spec.requires_certificate,
                },
            )
            out[spec.code] = skill
        return out

    def community(
        self, alliance: Alliance, plan: CommunityPlan
    ) -> tuple[Community, list[Building], dict[int, list[Household]]]:
        community = Community.objects.create(
            alliance=alliance,
            name=plan.name,
            name_en=plan.name_en,
            district=plan.district,
            address=plan.address,
            latitude=_q6(plan.latitude),
            longitude=_q6(plan.longitude),
        )
        cols = 6
        rows = -(-plan.buildings // cols)
        buildings = []
        for n in range(1, plan.buildings + 1):
            row, col = divmod(n - 1, cols)
            lat = plan.latitude + (row - (rows - 1) / 2) * 0.0008
            lng = plan.longitude + (col - (cols - 1) / 2) * 0.0011
            buildings.append(
                Building(
                    community=community,
                    name=f"{n}号楼",
                    floors=plan.floors,
                    latitude=_q6(lat),
                    longitude=_q6(lng),
                )
            )
        buildings = Building.objects.bulk_create(buildings, batch_size=BATCH)
        households: list[Household] = []
        for n, building in enumerate(buildings, start=1):
            for floor in range(1, plan.floors + 1):
                for r in range(1, plan.rooms_per_floor + 1):
                    room = f"{floor}{r:02d}"
                    households.append(
                        Household(
                            community=community,
                            building=building,
                            room=room,
                            floor=floor,
                            address_detail=f"{plan.address} {n} 号 {room} 室",
                        )
                    )
        households = Household.objects.bulk_create(households, batch_size=BATCH)
        by_building: dict[int, list[Household]] = {}
        for h in households:
            by_building.setdefault(h.building_id, []).append(h)
        self._add("buildings", len(buildings))
        self._add("households", len(households))
        return community, buildings, by_building

    def groups(self, community: Community) -> dict[str, Group]:
        out: dict[str, Group] = {}
        for spec in GROUPS:
            parent = out[spec.parent] if spec.parent else None
            out[spec.name] = Group.objects.create(
                community=community,
                parent=parent,
                name=spec.name,
                name_en=spec.name_en,
                description=spec.description,
            )
        jobs = [
            JobDescription(
                community=community,
                group=out[spec.name],
                title=spec.job.title,
                purpose=spec.job.purpose,
                duties=spec.job.duties,
                workflow=spec.job.workflow,
                howto=spec.job.howto,
            )
            for spec in GROUPS
        ]
        jobs += [
            JobDescription(
                community=community,
                role=role,
                title=job.title,
                purpose=job.purpose,
                duties=job.duties,
                workflow=job.workflow,
                howto=job.howto,
            )
            for role, job in ROLE_JOBS
        ]
        JobDescription.objects.bulk_create(jobs)
        self._add("groups", len(out))
        self._add("job descriptions", len(jobs))
        return out

    # -- people ------------------------------------------------------------------------------

    def person(
        self,
        community: Community,
        household: Household | None,
        *,
        volunteer: bool,
        login: DemoLogin | None = None,
        youngest: int = 20,
        oldest: int = 88,
    ) -> _Pending:
        gen = self.gen
        gender = login.gender if login else gen.gender()
        if gender == Gender.UNSPECIFIED:
            gender = Gender.MALE
        birth = gen.birth_date(self.today, youngest, oldest)
        person = Person(
            name=login.name if login else gen.name(gender),
            gender=gender,
            birth_date=birth,
            community=community,
            household=household,
            emergency_contact=gen.emergency_contact(),
            languages=["zh"],
            password=self.password_hash,
            date_joined=self.now - dt.timedelta(days=self.rng.randint(1, 900)),
        )
        person.set_phone(login.phone if login else gen.phone())
        person.set_id_number(gen.id_number(birth, gender))
        if self.rng.random() < 0.35:
            person.languages.append("wuu")
        if self.rng.random() < 0.7:
            person.real_name_verified_at = person.date_joined + dt.timedelta(days=1)
        pending = _Pending(person, community, volunteer)
        pending.grants.append((Role.RESIDENT, community))
        if volunteer:
            pending.grants.append((Role.VOLUNTEER, community))
            self.volunteer_profile(pending, household)
        self.pending.append(pending)
        return pending

    def volunteer_profile(self, pending: _Pending, household: Household | None) -> None:
        rng = self.rng
        codes = [s.code for s in SKILLS]
        weights = [s.weight for s in SKILLS]
        wanted = rng.choice((1, 2, 2, 3, 3, 4))
        chosen: list[str] = []
        while len(chosen) < wanted:
            code = rng.choices(codes, weights)[0]
            if code not in chosen:
                chosen.append(code)
        pending.skills = [(code, rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5))) for code in chosen]
        if "foreign_language" in chosen:
            pending.person.languages.append(rng.choice(("en", "en", "ja", "ko", "fr", "de")))
        self.random_slots(pending)
        if household is not None and rng.random() < 0.15:
            building = household.building
            assert building.latitude is not None and building.longitude is not None
            pending.person.latitude = _q6(float(building.latitude) + rng.uniform(-3e-3, 3e-3))
            pending.person.longitude = _q6(float(building.longitude) + rng.uniform(-3e-3, 3e-3))
        roll = rng.random()
        if roll < 0.02:
            pending.person.status = Status.SUSPENDED
            pending.person.status_until = self.now + dt.timedelta(days=rng.randint(1, 7))
        elif roll < 0.03:
            pending.person.status = Status.FROZEN
            pending.person.status_until = self.now + dt.timedelta(days=rng.randint(7, 30))

    def random_slots(self, pending: _Pending) -> None:
        rng = self.rng
        days = sorted(rng.sample(range(7), rng.randint(1, 4)))
        slots = []
        for day in days:
            start = rng.choice((8, 9, 10, 13, 14, 15, 18, 19))
            minutes = rng.choice((0, 30))
            hours = rng.randint(2, 4)
            end = min(start + hours, 22)
            slots.append((day, dt.time(start, minutes), dt.time(end, minutes if end < 22 else 0)))
        pending.slots = slots

    def people(
        self,
        plan: CommunityPlan,
        community: Community,
        buildings: list[Building],
        households: dict[int, list[Household]],
        alliance: Alliance,
        groups: dict[str, Group],
        first: bool,
    ) -> None:
        rng = self.rng
        every = [h for b in buildings for h in households[b.pk]]

        def home_in(building: Building) -> Household:
            return rng.choice(households[building.pk])

        if first:
            b1 = buildings[0]
            logins: dict[str, _Pending] = {}
            for login in LOGINS:
                if login.key == "superuser":
                    continue
                volunteer = login.key in (
                    "volunteer",
                    "building_manager",
                    "group_leader",
                    "group_member",
                )
                home = (
                    home_in(b1)
                    if login.key in ("resident", "building_manager")
                    else (rng.choice(every))
                )
                oldest = 82 if login.key == "resident" else 60
                youngest = 70 if login.key == "resident" else 25
                logins[login.key] = self.person(
                    community,
                    home,
                    volunteer=volunteer,
                    login=login,
                    youngest=youngest,
                    oldest=oldest,
                )
            for p in logins.values():
                p.person.status, p.person.status_until = Status.ACTIVE, None
                p.person.latitude = p.person.longitude = None
            logins["volunteer"].skills = [("shopping", 4), ("clinic_escort", 3), ("computer", 5)]
            logins["volunteer"].slots = [
                (0, dt.time(9), dt.time(12)),
                (2, dt.time(14), dt.time(17)),
                (5, dt.time(9), dt.time(17)),
            ]
            logins["building_manager"].skills = [("repair", 3), ("disinfection", 4)]
            logins["group_leader"].skills = [("shopping", 5), ("cooking", 3)]
            logins["group_member"].skills = [("lifting", 4), ("driving", 3)]
            logins["building_manager"].grants.append((Role.BUILDING_MANAGER, b1))
            logins["group_leader"].grants.append((Role.GROUP_LEADER, groups["团长组"]))
            logins["group_member"].grants.append((Role.GROUP_MEMBER, groups["物流组"]))
            logins["broker"].grants.append((Role.BROKER, community))
            logins["branch_head"].grants.append((Role.BRANCH_HEAD, community))
            logins["finance_officer"].grants.append((Role.FINANCE_OFFICER, community))
            logins["merchant"].grants.append((Role.MERCHANT, community))
            logins["district_admin"].grants.append((Role.DISTRICT_ADMIN, alliance))
            second_merchant = self.person(community, rng.choice(every), volunteer=False)
            second_merchant.grants.append((Role.MERCHANT, community))

        volunteers = [
            self.person(community, rng.choice(every), volunteer=True, youngest=18, oldest=72)
            for _ in range(plan.volunteers)
        ]
        for _ in range(plan.residents):
            self.person(community, rng.choice(every), volunteer=False, youngest=25, oldest=95)

        free = list(volunteers)
        rng.shuffle(free)
        # One building manager per managed building (building 1 of the first community is the
        # printed login), living in that building.
        for number in plan.managed_buildings:
            if first and number == 1:
                continue
            building = buildings[number - 1]
            manager = free.pop()
            manager.person.household = home_in(building)
            manager.person.status, manager.person.status_until = Status.ACTIVE, None
            manager.grants.append((Role.BUILDING_MANAGER, building))
        if not first:
            head = free.pop()
            head.person.status, head.person.status_until = Status.ACTIVE, None
            head.grants.append((Role.BRANCH_HEAD, community))
        # Functional groups: a leader for each, members in the groups without sub-groups.
        parents = {spec.parent for spec in GROUPS if spec.parent}
        for spec in GROUPS if plan.has_groups else ():
            group = groups[spec.name]
            if not (first and spec.name == "团长组"):
                free.pop().grants.append((Role.GROUP_LEADER, group))
            if spec.name in parents:
                continue
            for _ in range(rng.randint(*plan.group_size)):
                if free:
                    free.pop().grants.append((Role.GROUP_MEMBER, group))

    def save_people(self, skills: dict[str, Skill], verifier: Person | None) -> None:
        persons = Person.objects.bulk_create([p.person for p in self.pending], batch_size=BATCH)
        grants = [_grant(p.person, role, node) for p in self.pending for role, node in p.grants]
        RoleGrant.objects.bulk_create(grants, batch_size=BATCH)
        certificates: list[Certificate] = []
        held: list[PersonSkill] = []
        slots: list[AvailabilitySlot] = []
        for p in self.pending:
            for code, level in p.skills:
                spec = _SKILL_BY_CODE[code]
                cert = None
                if spec.requires_certificate:
                    cert = Certificate(
                        person=p.person,
                        community=p.community,
                        skill=skills[code],
                        number=f"{spec.number_prefix}{self.rng.randrange(10**8):08d}",
                        issuer=spec.issuer,
                        valid_until=self.today + dt.timedelta(days=self.rng.randint(200, 1800)),
                        verified_by=verifier,
                        verified_at=self.now,
                    )
                    certificates.append(cert)
                held.append(
                    PersonSkill(
                        person=p.person,
                        community=p.community,
                        skill=skills[code],
                        level=level,
                        certificate=cert,
                    )
                )
            for weekday, start, end in p.slots:
                slots.append(
                    AvailabilitySlot(
                        person=p.person,
                        community=p.community,
                        weekday=weekday,
                        start_time=start,
                        end_time=end,
                    )
                )
        Certificate.objects.bulk_create(certificates, batch_size=BATCH)
        PersonSkill.objects.bulk_create(held, batch_size=BATCH)
        AvailabilitySlot.objects.bulk_create(slots, batch_size=BATCH)
        self._add("people", len(persons))
        self._add("volunteers", sum(1 for p in self.pending if p.volunteer))
        self._add("role grants", len(grants))
        self._add("skills held", len(held))
        self._add("certificates", len(certificates))
        self._add("availability slots", len(slots))

    def superuser(self) -> None:
        login = _LOGIN["superuser"]
        admin = Person(
            name=login.name,
            password=self.password_hash,
            is_staff=True,
            is_superuser=True,
            languages=["zh"],
        )
        admin.set_phone(login.phone)
        admin.save()
        self._add("people", 1)

    def _add(self, key: str, n: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def run(self) -> DemoResult:
        skills = self.skills()
        self._add("skills", len(skills))
        alliance = Alliance.objects.create(name=ALLIANCE_NAME, name_en=ALLIANCE_NAME_EN)
        communities: list[Community] = []
        for index, plan in enumerate(self.plans):
            community, buildings, households = self.community(alliance, plan)
            groups = self.groups(community) if plan.has_groups else {}
            self.people(plan, community, buildings, households, alliance, groups, first=index == 0)
            communities.append(community)
        verifier = next(
            (p.person for p in self.pending if p.person.phone == _LOGIN["branch_head"].phone), None
        )
        self.save_people(skills, verifier)
        self.superuser()
        self._add("communities", len(communities))
        return DemoResult(self.seed, alliance, communities, self.counts)


def load(*, seed: int = DEFAULT_SEED, small: bool = False) -> DemoResult:
    """Create the demo alliance in one transaction. Refuses if it already exists."""
    with transaction.atomic():
        if demo_exists():
            raise ValueError(f"the demo alliance {ALLIANCE_NAME} already exists")
        return _Loader(seed, small).run()
