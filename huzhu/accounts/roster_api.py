"""Roster API: preview and import a roster file, export the roster (phones masked)."""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, UploadedFile

from huzhu.accounts import policy, roster
from huzhu.accounts.models import Person
from huzhu.accounts.roster_views import xlsx_response
from huzhu.core.api import ERRORS
from huzhu.core.errors import DomainError
from huzhu.orgs.models import Building, Community

router = Router(tags=["roster"])


class RowErrorOut(Schema):
    row: int
    column: str
    message: str


class PreviewOut(Schema):
    total_rows: int
    valid: int
    existing: int
    bad_rows: int
    households_to_create: int
    columns: dict[str, str]
    ignored_columns: list[str]
    existing_rows: list[int]
    errors: list[RowErrorOut]


class ImportOut(Schema):
    dry_run: bool
    total_rows: int
    created: int
    skipped_existing: int
    households_created: int
    bad_rows: int
    errors: list[RowErrorOut]


class ExportFilters(Schema):
    community: int | None = None
    building: int | None = None


def _actor(request: HttpRequest) -> Person:
    user = request.user
    assert isinstance(user, Person)
    return user


def _community(actor: Person, community_id: int) -> Community:
    community = Community.objects.filter(pk=community_id).first()
    if community is None:
        raise Http404
    policy.require(actor, "accounts.import_roster", community)
    return community


def _mapping(raw: str | None) -> dict[str, str] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise DomainError(
            "accounts.roster.bad_mapping",
            _('列对应关系须为 JSON 对象：{"表头": "字段"}。'),
            details={"field": "mapping"},
        )
    return value


def _read(upload: UploadedFile | None) -> bytes:
    # Optional in the signature so that scope and permission are checked before the input.
    if upload is None:
        raise DomainError(
            "accounts.roster.no_file", _("请上传名册文件。"), details={"field": "file"}
        )
    roster.check_size(upload.size or 0)
    return upload.read()


def _errors(errors: list[roster.RowError]) -> list[RowErrorOut]:
    return [RowErrorOut(row=e.row, column=e.column, message=e.message) for e in errors]


@router.post("communities/{community_id}/roster/preview", response={200: PreviewOut, **ERRORS})
def preview_roster(
    request: HttpRequest,
    community_id: int,
    file: File[UploadedFile | None] = None,
    mapping: Form[str | None] = None,
) -> PreviewOut:
    """Check a roster file (.xlsx or .csv) for a community; writes nothing.

    `mapping` is an optional JSON object mapping file headers to fields (name, phone, gender,
    birth_date, building, room, id_number, emergency_contact, skills, roles; "" ignores).
    Requires accounts.import_roster on the community.
    """
    actor = _actor(request)
    community = _community(actor, community_id)
    preview = roster.preview_roster(
        actor=actor, community=community, data=_read(file), mapping=_mapping(mapping)
    )
    return PreviewOut(
        total_rows=preview.total_rows,
        valid=len(preview.valid_rows),
        existing=len(preview.existing_rows),
        bad_rows=preview.bad_rows,
        households_to_create=preview.new_households,
        columns=preview.mapping,
        ignored_columns=preview.ignored_headers,
        existing_rows=preview.existing_rows,
        errors=_errors(preview.errors),
    )


@router.post("communities/{community_id}/roster/import", response={200: ImportOut, **ERRORS})
def import_roster(
    request: HttpRequest,
    community_id: int,
    file: File[UploadedFile | None] = None,
    mapping: Form[str | None] = None,
    dry_run: Form[bool] = False,
) -> ImportOut:
    """Import the valid rows of a roster file in one transaction.

    Already registered phone numbers are skipped; bad rows are reported, not created; a header
    without a required column is rejected with 400 and nothing is written. With `dry_run`,
    nothing is written and the counts are what an import would do. Requires
    accounts.import_roster on the community.
    """
    actor = _actor(request)
    community = _community(actor, community_id)
    result = roster.import_roster(
        actor=actor,
        community=community,
        data=_read(file),
        filename=(file.name or "") if file else "",
        mapping=_mapping(mapping),
        dry_run=dry_run,
    )
    return ImportOut(
        dry_run=result.dry_run,
        total_rows=result.total_rows,
        created=result.created,
        skipped_existing=result.skipped_existing,
        households_created=result.households_created,
        bad_rows=result.bad_rows,
        errors=_errors(result.errors),
    )


@router.get(
    "roster/export",
    response={**ERRORS},
    openapi_extra={
        "responses": {
            200: {
                "description": "Excel workbook",
                "content": {
                    roster.XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}
                },
            }
        }
    },
)
def export_roster(request: HttpRequest, filters: Query[ExportFilters]) -> HttpResponse:
    """The people the caller may see as .xlsx, phone numbers masked; audited.

    Requires accounts.export_roster (on the community or building when filtered).
    """
    actor = _actor(request)
    community = building = None
    if filters.community is not None:
        community = Community.objects.filter(pk=filters.community).first()
        if community is None:
            raise Http404
    if filters.building is not None:
        building = Building.objects.filter(pk=filters.building).first()
        if building is None:
            raise Http404
    export = roster.export_roster(actor=actor, community=community, building=building)
    return xlsx_response(export.content, export.filename)
