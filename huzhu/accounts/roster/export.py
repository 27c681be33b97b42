"""Spreadsheets out: the import template, the roster export (phones masked, audited), and a
formula-safe .xlsx writer shared with other exports."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from huzhu.accounts import pii, policy
from huzhu.accounts.models import Gender, Person, PersonSkill, Role, RoleGrant, Status
from huzhu.accounts.roster.table import FIELDS, field_label
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.orgs.models import Alliance, Building, Community

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# --------------------------------------------------------------------------- spreadsheets out


def safe_cell(value: Any) -> Any:
    """A value for a spreadsheet cell that Excel will never run as a formula."""
    if isinstance(value, Promise):
        value = str(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _workbook_bytes(sheets: list[tuple[str, list[str], Iterable[list[Any]]]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=title[:31])
        bold = []
        for text in header:
            c = WriteOnlyCell(sheet, value=safe_cell(text))
            c.font = Font(bold=True)
            bold.append(c)
        sheet.append(bold)
        for values in rows:
            out: list[Any] = []
            for v in values:
                if isinstance(v, dt.date):
                    c = WriteOnlyCell(sheet, value=v)
                    c.number_format = "yyyy-mm-dd"
                    out.append(c)
                else:
                    out.append(safe_cell(v))
            sheet.append(out)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def workbook_bytes(title: str, header: list[str], rows: Iterable[list[Any]]) -> bytes:
    """One-sheet .xlsx with a bold header; strings are protected from formula injection."""
    return _workbook_bytes([(title, header, rows)])


def template_workbook() -> bytes:
    """The empty roster with its headers, and a second sheet explaining every column."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = _("名册")
    for index, name in enumerate(FIELDS, start=1):
        c = sheet.cell(row=1, column=index, value=field_label(name))
        c.font = Font(bold=True)
        letter = c.column_letter
        sheet.column_dimensions[letter].width = 18
        if name in ("phone", "id_number", "room"):
            # Text format, so that Excel keeps all 18 digits of an ID number.
            sheet.column_dimensions[letter].number_format = "@"
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet(_("填写说明"))
    notes.append([_("列"), _("必填"), _("说明")])
    for name, required, text in column_help():
        notes.append([name, _("是") if required else "", text])
    notes.column_dimensions["C"].width = 80
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def column_help() -> list[tuple[str, bool, str]]:
    """(column, required, explanation) for the upload page and the template."""
    return [
        (field_label("name"), True, _("不超过 50 个字。")),
        (
            field_label("phone"),
            True,
            _("11 位大陆手机号，一人一号；已注册的手机号会跳过，不会重复创建。"),
        ),
        (field_label("gender"), False, _("男、女、M、F，或留空。")),
        (field_label("birth_date"), False, _("YYYY-MM-DD，或 Excel 日期格式。")),
        (
            field_label("building"),
            False,
            _("本社区已有的楼栋名称，如“1号楼”。楼栋不存在时该行报错。"),
        ),
        (
            field_label("room"),
            False,
            _("与楼栋一起填写。楼栋存在而房号是新的，导入时会自动创建该住户。"),
        ),
        (
            field_label("id_number"),
            False,
            _("18 位身份证号，检查校验位；请将该列设为文本格式，以免末几位丢失。"),
        ),
        (field_label("emergency_contact"), False, _("姓名和电话，不超过 200 个字。")),
        (
            field_label("skills"),
            False,
            _("技能代码或中文名称，多个用逗号或顿号分隔；需要资格证书的技能不能通过导入添加。"),
        ),
        (field_label("roles"), False, _("志愿者 或 居民，可同时填写；留空为志愿者。")),
    ]


@dataclass
class Export:
    content: bytes
    rows: int
    filename: str


def exportable_people(
    actor: Person, *, community: Community | None = None, building: Building | None = None
) -> QuerySet[Person]:
    """The people ``actor`` may export (accounts.export_roster), optionally filtered."""
    qs = Person.objects.all()
    if community is not None:
        qs = qs.filter(community=community)
    if building is not None:
        qs = qs.filter(household__building=building)
    qs = policy.visible_to(actor, "accounts.export_roster", qs)
    return (
        qs.select_related("community", "household__building")
        .defer("id_number", "emergency_contact", "household__address_detail")
        .prefetch_related(
            Prefetch(
                "grants",
                queryset=RoleGrant.objects.active().only("person_id", "role"),
                to_attr="active_grants",
            ),
            Prefetch(
                "skills",
                queryset=PersonSkill.objects.select_related("skill"),
                to_attr="held_skills",
            ),
        )
        .order_by("community_id", "household__building_id", "household__room", "id")
    )


def export_roster(
    *, actor: Person, community: Community | None = None, building: Building | None = None
) -> Export:
    """An .xlsx of the people the actor may see; phone numbers masked, no other PII; audited.

    A filter outside the actor's scope is a 404; no accounts.export_roster anywhere is a 403.
    """
    if building is not None:
        policy.require(actor, "accounts.export_roster", building)
        if community is not None and building.community_id != community.pk:
            raise DomainError(
                "accounts.roster.building_mismatch",
                _("楼栋不属于所选社区。"),
                details={"field": "building"},
            )
        community = community or building.community
    elif community is not None:
        policy.require(actor, "accounts.export_roster", community)
    if not policy.can_anywhere(actor, "accounts.export_roster"):
        raise PermissionDenied("accounts.export_roster")
    people = list(exportable_people(actor, community=community, building=building))
    role_order = {r: i for i, r in enumerate(Role.values)}
    header = [
        str(_("社区")),
        field_label("name"),
        field_label("phone"),
        field_label("gender"),
        field_label("birth_date"),
        field_label("building"),
        field_label("room"),
        field_label("roles"),
        field_label("skills"),
        str(_("状态")),
    ]

    def rows() -> Iterator[list[Any]]:
        for p in people:
            grants: list[RoleGrant] = getattr(p, "active_grants", [])
            held: list[PersonSkill] = getattr(p, "held_skills", [])
            roles = sorted({g.role for g in grants}, key=lambda r: role_order.get(r, 99))
            household = p.household
            yield [
                p.community.name if p.community else "",
                p.name,
                pii.mask_phone(p.phone),
                Gender(p.gender).label if p.gender in Gender.values else "",
                p.birth_date,
                household.building.name if household else "",
                household.room if household else "",
                "、".join(str(Role(r).label) for r in roles),
                "、".join(ps.skill.name for ps in held),
                str(Status(p.effective_status()).label),
            ]

    content = workbook_bytes(str(_("名册")), header, rows())
    communities = {p.community_id for p in people if p.community_id}
    alliances = {p.community.alliance_id for p in people if p.community is not None}
    scope_community = community
    if scope_community is None and len(communities) == 1:
        scope_community = people[0].community
    alliance = None
    if scope_community is None and len(alliances) == 1:
        alliance = Alliance.objects.filter(pk=next(iter(alliances))).first()
    with transaction.atomic():
        record(
            "accounts.roster.exported",
            actor=actor,
            target=building or scope_community,
            community=scope_community,
            alliance=alliance,
            new={"rows": len(people), "community": community, "building": building},
        )
    stamp = timezone.localtime(clock.now()).strftime("%Y%m%d-%H%M")
    return Export(content=content, rows=len(people), filename=f"roster-{stamp}.xlsx")
