"""Checking the rows of a roster and importing the valid ones.

``preview_roster`` reads and checks every row and writes nothing; ``import_roster`` creates the
valid rows in one transaction through the same actions every page uses (``create_household``,
``create_person``, ``add_skill``), skips people whose phone number is already registered, and
writes one summary audit entry besides the per-person entries.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from huzhu.accounts import pii, policy
from huzhu.accounts.actions import add_skill, create_person
from huzhu.accounts.models import Gender, Household, Person, Role, Skill
from huzhu.accounts.roster.table import (
    FIELDS,
    Table,
    cell_text,
    field_label,
    match_columns,
    parse_date,
    read_table,
)
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.orgs.actions import create_household
from huzhu.orgs.models import Building, Community

ROLE_NAMES: dict[str, str] = {
    "志愿者": Role.VOLUNTEER,
    "时间志工": Role.VOLUNTEER,
    "volunteer": Role.VOLUNTEER,
    "居民": Role.RESIDENT,
    "会员": Role.RESIDENT,
    "resident": Role.RESIDENT,
}
GENDER_NAMES: dict[str, str] = {
    "男": Gender.MALE,
    "m": Gender.MALE,
    "male": Gender.MALE,
    "女": Gender.FEMALE,
    "f": Gender.FEMALE,
    "female": Gender.FEMALE,
    "": Gender.UNSPECIFIED,
    "未说明": Gender.UNSPECIFIED,
    "u": Gender.UNSPECIFIED,
}
_LIST_SPLIT = re.compile(r"[,，、;；/|\s]+")


@dataclass(frozen=True)
class RowError:
    """One problem in one cell: the row number as Excel shows it, the column, the reason."""

    row: int
    column: str
    message: str


@dataclass
class RosterRow:
    """A checked row, ready to be created."""

    row: int
    name: str
    phone: str
    gender: str = Gender.UNSPECIFIED
    birth_date: dt.date | None = None
    building: Building | None = None
    room: str = ""
    id_number: str = ""
    emergency_contact: str = ""
    skills: list[Skill] = field(default_factory=list)
    roles: tuple[str, ...] = (Role.VOLUNTEER,)

    @property
    def masked_phone(self) -> str:
        return pii.mask_phone(self.phone)


@dataclass
class Preview:
    """What an import of the file would do. Nothing has been written."""

    headers: list[str]
    columns: dict[int, str]
    total_rows: int = 0
    valid_rows: list[RosterRow] = field(default_factory=list)
    existing_rows: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    new_households: int = 0

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})

    @property
    def mapping(self) -> dict[str, str]:
        """header → field, as used (the form an explicit mapping is given in)."""
        return {self.headers[i]: f for i, f in self.columns.items()}

    @property
    def ignored_headers(self) -> list[str]:
        return [h for i, h in enumerate(self.headers) if h and i not in self.columns]


@dataclass
class ImportResult:
    created: int
    skipped_existing: int
    households_created: int
    errors: list[RowError]
    total_rows: int
    dry_run: bool = False

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})


# --------------------------------------------------------------------------- checking rows


@dataclass
class _Lookups:
    community: Community
    buildings: dict[str, Building]
    households: dict[tuple[int, str], Household]
    skills: dict[str, Skill]

    @classmethod
    def load(cls, community: Community) -> _Lookups:
        buildings: dict[str, Building] = {}
        for b in community.buildings.all():
            buildings.setdefault(b.name.strip(), b)
            buildings.setdefault(b.name.strip().casefold(), b)
        households: dict[tuple[int, str], Household] = {}
        for h in Household.objects.filter(community=community).defer("address_detail"):
            h.community = community  # the policy reads it for every row: no query per row
            households[(h.building_id, h.room)] = h
        skills: dict[str, Skill] = {}
        for s in Skill.objects.all():
            for key in (s.code, s.name, s.name_en):
                if key:
                    skills.setdefault(key.strip().casefold(), s)
        return cls(community, buildings, households, skills)

    def building(self, value: str) -> Building | None:
        value = value.strip()
        for key in (value, value.casefold(), f"{value}号楼", f"{value}栋"):
            if key in self.buildings:
                return self.buildings[key]
        return None


def _existing(hashes: Iterable[str], field_name: str) -> set[str]:
    found: set[str] = set()
    chunk: list[str] = []
    for h in hashes:
        chunk.append(h)
        if len(chunk) == 500:
            found |= set(
                Person.objects.filter(**{f"{field_name}__in": chunk}).values_list(
                    field_name, flat=True
                )
            )
            chunk = []
    if chunk:
        found |= set(
            Person.objects.filter(**{f"{field_name}__in": chunk}).values_list(field_name, flat=True)
        )
    return found


def validate(
    table: Table,
    *,
    community: Community,
    mapping: Mapping[str, str] | None = None,
    lookups: _Lookups | None = None,
) -> Preview:
    """Check every row of ``table`` for ``community``; writes nothing."""
    columns = match_columns(table.headers, mapping)
    by_field = {f: i for i, f in columns.items()}
    label = {f: table.headers[i] for i, f in columns.items()}
    lookups = lookups or _Lookups.load(community)
    preview = Preview(headers=table.headers, columns=columns, total_rows=len(table.rows))

    def cell(values: list[Any], name: str) -> Any:
        index = by_field.get(name)
        return values[index] if index is not None and index < len(values) else None

    # Blind indexes of every well-formed phone / ID number, looked up in two batches.
    phone_hashes: dict[int, str] = {}
    id_hashes: dict[int, str] = {}
    for number, values in table.rows:
        phone = pii.normalize_phone(cell_text(cell(values, "phone")))
        if pii.is_valid_phone(phone):
            phone_hashes[number] = pii.phone_index(phone)
        raw_id = cell(values, "id_number")
        if isinstance(raw_id, str) and pii.is_valid_id_number(raw_id):
            id_hashes[number] = pii.id_number_index(raw_id)
    registered_phones = _existing(set(phone_hashes.values()), "phone_hash")
    registered_ids = _existing(set(id_hashes.values()), "id_number_hash")

    first_phone: dict[str, int] = {}
    first_id: dict[str, int] = {}
    new_households: set[tuple[int, str]] = set()
    for number, values in table.rows:
        errors: list[RowError] = []

        def fail(
            name: str, message: str, *, _row: int = number, _errors: list[RowError] = errors
        ) -> None:
            _errors.append(RowError(_row, label.get(name, field_label(name)), message))

        name = cell_text(cell(values, "name"))
        if not name:
            fail("name", _("姓名不能为空。"))
        elif len(name) > 50:
            fail("name", _("姓名不能超过 50 个字。"))

        phone = pii.normalize_phone(cell_text(cell(values, "phone")))
        phone_hash = phone_hashes.get(number)
        if not phone:
            fail("phone", _("手机号不能为空。"))
        elif phone_hash is None:
            fail("phone", _("手机号格式不正确，应为 11 位大陆手机号。"))
        elif phone_hash in first_phone:
            fail("phone", _("手机号与第 %(row)s 行重复。") % {"row": first_phone[phone_hash]})
        else:
            first_phone[phone_hash] = number
        if phone_hash is not None and phone_hash in registered_phones and not errors:
            # Already registered: skipped, not an error; the rest of the row is not checked.
            preview.existing_rows.append(number)
            continue

        gender_raw = cell_text(cell(values, "gender"))
        gender = GENDER_NAMES.get(gender_raw.casefold())
        if gender is None:
            fail(
                "gender",
                _("性别无法识别：%(value)s（应为 男、女、M、F 或留空）。") % {"value": gender_raw},
            )

        birth_raw = cell(values, "birth_date")
        birth_date: dt.date | None = None
        if cell_text(birth_raw):
            birth_date = parse_date(birth_raw)
            if birth_date is None:
                fail(
                    "birth_date",
                    _("出生日期格式不正确：%(value)s（应为 YYYY-MM-DD）。")
                    % {"value": cell_text(birth_raw)},
                )
            elif birth_date > clock.today():
                fail("birth_date", _("出生日期不能晚于今天。"))
            elif birth_date.year < 1900:
                fail("birth_date", _("出生日期不能早于 1900 年。"))

        building_name = cell_text(cell(values, "building"))
        room = cell_text(cell(values, "room"))
        building: Building | None = None
        if building_name:
            building = lookups.building(building_name)
            if building is None:
                fail("building", _("本社区没有名为“%(value)s”的楼栋。") % {"value": building_name})
            elif not room:
                fail("room", _("填写楼栋时须同时填写房号。"))
        if room and not building_name:
            fail("room", _("填写房号时须同时填写楼栋。"))
        elif len(room) > 20:
            fail("room", _("房号不能超过 20 个字符。"))

        raw_id = cell(values, "id_number")
        id_number = ""
        if cell_text(raw_id):
            if isinstance(raw_id, (int, float)) and not isinstance(raw_id, bool):
                fail("id_number", _("身份证号须以文本格式填写（数字格式会丢失末几位）。"))
            elif number not in id_hashes:
                fail("id_number", _("身份证号格式或校验位不正确。"))
            elif id_hashes[number] in first_id:
                fail(
                    "id_number",
                    _("身份证号与第 %(row)s 行重复。") % {"row": first_id[id_hashes[number]]},
                )
            elif id_hashes[number] in registered_ids:
                first_id[id_hashes[number]] = number
                fail("id_number", _("该身份证号已登记。"))
            else:
                first_id[id_hashes[number]] = number
                id_number = pii.normalize_id_number(str(raw_id))

        emergency = cell_text(cell(values, "emergency_contact"))
        if len(emergency) > 200:
            fail("emergency_contact", _("紧急联系人不超过 200 个字。"))

        skills: list[Skill] = []
        for token in _LIST_SPLIT.split(cell_text(cell(values, "skills"))):
            if not token:
                continue
            skill = lookups.skills.get(token.casefold())
            if skill is None:
                fail("skills", _("未知技能：%(value)s。") % {"value": token})
            elif skill.requires_certificate:
                fail(
                    "skills",
                    _("技能“%(skill)s”需要登记资格证书，不能通过名册导入。")
                    % {"skill": str(skill)},
                )
            elif skill not in skills:
                skills.append(skill)

        roles: list[str] = []
        for token in _LIST_SPLIT.split(cell_text(cell(values, "roles"))):
            if not token:
                continue
            role = ROLE_NAMES.get(token.casefold())
            if role is None:
                fail("roles", _("未知角色：%(value)s（应为 志愿者 或 居民）。") % {"value": token})
            elif role not in roles:
                roles.append(role)

        if errors:
            preview.errors.extend(errors)
            continue
        if building is not None and (building.pk, room) not in lookups.households:
            new_households.add((building.pk, room))
        preview.valid_rows.append(
            RosterRow(
                row=number,
                name=name,
                phone=phone,
                gender=gender or Gender.UNSPECIFIED,
                birth_date=birth_date,
                building=building,
                room=room if building else "",
                id_number=id_number,
                emergency_contact=emergency,
                skills=skills,
                roles=tuple(roles) or (Role.VOLUNTEER,),
            )
        )
    preview.new_households = len(new_households)
    return preview


def preview_roster(
    *, actor: Person, community: Community, data: bytes, mapping: Mapping[str, str] | None = None
) -> Preview:
    """Read and check a roster file; writes nothing."""
    policy.require(actor, "accounts.import_roster", community)
    return validate(read_table(data), community=community, mapping=mapping)


# --------------------------------------------------------------------------- import


def _error_column(exc: DomainError) -> str:
    name = str(exc.details.get("field", ""))
    return field_label(name) if name in FIELDS else ""


def import_roster(
    *,
    actor: Person,
    community: Community,
    data: bytes,
    filename: str = "",
    mapping: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Create the valid rows of a roster file in ``community``, in one transaction.

    Rows whose phone number is already registered are skipped (a re-import creates nothing);
    rows with errors are reported, not created. Households are created when the building
    exists and the room is new. One ``accounts.roster.imported`` entry summarises the import.
    """
    policy.require(actor, "accounts.import_roster", community)
    table = read_table(data)
    if dry_run:
        preview = validate(table, community=community, mapping=mapping)
        return ImportResult(
            created=len(preview.valid_rows),
            skipped_existing=len(preview.existing_rows),
            households_created=preview.new_households,
            errors=preview.errors,
            total_rows=preview.total_rows,
            dry_run=True,
        )
    with transaction.atomic():
        lookups = _Lookups.load(community)
        preview = validate(table, community=community, mapping=mapping, lookups=lookups)
        errors = list(preview.errors)
        created = households_created = 0
        for row in preview.valid_rows:
            try:
                with transaction.atomic():
                    household = None
                    new_household = False
                    if row.building is not None:
                        key = (row.building.pk, row.room)
                        household = lookups.households.get(key)
                        if household is None:
                            household = create_household(
                                actor=actor, building=row.building, room=row.room
                            )
                            new_household = True
                    person = create_person(
                        actor=actor,
                        community=community,
                        name=row.name,
                        phone=row.phone,
                        gender=row.gender,
                        birth_date=row.birth_date,
                        household=household,
                        id_number=row.id_number,
                        emergency_contact=row.emergency_contact,
                        roles=row.roles,
                    )
                    for skill in row.skills:
                        add_skill(actor=actor, person=person, skill=skill, level=1)
            except DomainError as exc:
                # Registered meanwhile, or a rule only the action knows: report the row.
                errors.append(RowError(row.row, _error_column(exc), str(exc.message)))
                continue
            if new_household and household is not None:
                lookups.households[(household.building_id, household.room)] = household
                households_created += 1
            created += 1
        errors.sort(key=lambda e: e.row)
        record(
            "accounts.roster.imported",
            actor=actor,
            target=community,
            community=community,
            new={
                "file": filename[:200],
                "rows": preview.total_rows,
                "created": created,
                "skipped_existing": len(preview.existing_rows),
                "households_created": households_created,
                "bad_rows": len({e.row for e in errors}),
            },
        )
    return ImportResult(
        created=created,
        skipped_existing=len(preview.existing_rows),
        households_created=households_created,
        errors=errors,
        total_rows=preview.total_rows,
    )
