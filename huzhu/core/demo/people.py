"""Random but valid personal data: names, unique phone and resident ID numbers, birth dates,
emergency contacts, all drawn from the loader's seeded generator."""

from __future__ import annotations

import datetime as dt
import random

from huzhu.accounts import pii
from huzhu.accounts.models import Gender
from huzhu.core.demo.logins import LOGINS

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
