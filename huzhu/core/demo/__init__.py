"""The demo world loaded by ``manage.py load_demo``.

An alliance with two communities. The first is the compound of seed 000 (a Putuo compound of
60 buildings with about 120 households each, and the volunteer groups 中台 (外联组, 采购/财务组),
运营, 供应链 (团长组, 物流组), 风控消杀 and 客服关爱); the second is small.

Everything comes from one seeded random generator, so a seed always gives the same people,
numbers, skills and groups. All rows are written with ``bulk_create`` (encrypted fields encrypt
in ``get_prep_value``, so bulk inserts store ciphertext like ``save()`` does). The loader writes no
audit entries for them: audit rows can never be deleted, and a demo database is started over by
deleting it, not by a reset command. The time bank is the exception (timebank.py): ledger rows
are only ever written by its actions, which audit them.

The package: texts.py (skills, groups, job descriptions), plans.py (community sizes), logins.py
(the printed logins), people.py (names, phone and ID numbers), builder.py (the loader),
timebank.py (service credits, members, merchants, paper slips).
"""

from huzhu.core.demo.builder import (
    ALLIANCE_NAME,
    ALLIANCE_NAME_EN,
    BATCH,
    DEFAULT_SEED,
    DemoResult,
    demo_exists,
    load,
)
from huzhu.core.demo.logins import DEMO_PASSWORD, LOGINS, DemoLogin, login_table
from huzhu.core.demo.people import id_check_digit
from huzhu.core.demo.plans import CommunityPlan
from huzhu.core.demo.texts import GROUPS, ROLE_JOBS, SKILLS, GroupSpec, JobText, SkillSpec

__all__ = [
    "ALLIANCE_NAME",
    "ALLIANCE_NAME_EN",
    "BATCH",
    "DEFAULT_SEED",
    "DEMO_PASSWORD",
    "GROUPS",
    "LOGINS",
    "ROLE_JOBS",
    "SKILLS",
    "CommunityPlan",
    "DemoLogin",
    "DemoResult",
    "GroupSpec",
    "JobText",
    "SkillSpec",
    "demo_exists",
    "id_check_digit",
    "load",
    "login_table",
]
