"""Reading a roster file: content sniffing, limits, the header and its columns, cell values.

Files are recognised by their content, never by their name: an .xlsx is a zip with the OOXML
parts; a .csv is text in UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from huzhu.core.errors import DomainError

# Largest number of data rows in one file (the upload size limit is HUZHU_MAX_UPLOAD_BYTES).
MAX_ROWS = 20_000
# Columns read from a worksheet; a roster needs ten.
MAX_COLUMNS = 64
# A zip that inflates to more than this many times the upload limit is refused (zip bomb).
MAX_INFLATION = 40

# field → column label (the header written in the template and shown in messages).
FIELDS: dict[str, Promise] = {
    "name": gettext_lazy("姓名"),
    "phone": gettext_lazy("手机号"),
    "gender": gettext_lazy("性别"),
    "birth_date": gettext_lazy("出生日期"),
    "building": gettext_lazy("楼栋"),
    "room": gettext_lazy("房号"),
    "id_number": gettext_lazy("身份证号"),
    "emergency_contact": gettext_lazy("紧急联系人"),
    "skills": gettext_lazy("技能"),
    "roles": gettext_lazy("角色"),
}
REQUIRED_FIELDS = ("name", "phone")

# Header aliases (compared after normalisation: case, spaces, "*", and a bracketed hint removed).
ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字", "name", "fullname", "full name"),
    "phone": (
        "手机号",
        "手机",
        "手机号码",
        "电话",
        "电话号码",
        "联系电话",
        "phone",
        "mobile",
        "phone number",
        "mobile phone",
        "cellphone",
        "tel",
    ),
    "gender": ("性别", "gender", "sex"),
    "birth_date": (
        "出生日期",
        "生日",
        "出生年月日",
        "birth date",
        "birthdate",
        "birthday",
        "date of birth",
        "dob",
    ),
    "building": ("楼栋", "楼号", "楼", "楼栋号", "building", "block"),
    "room": ("房号", "房间号", "门牌号", "室", "room", "room number", "unit"),
    "id_number": (
        "身份证号",
        "身份证",
        "身份证号码",
        "证件号",
        "证件号码",
        "id number",
        "id card",
        "id card number",
        "id no",
        "id",
    ),
    "emergency_contact": ("紧急联系人", "紧急联系方式", "emergency contact", "emergency"),
    "skills": ("技能", "特长", "技能特长", "skills", "skill"),
    "roles": ("角色", "身份", "roles", "role"),
}


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class RosterError(DomainError):
    """The file as a whole cannot be imported (type, size, header); nothing is written."""


@dataclass
class Table:
    """The cells of a file: the header and the data rows, each with its Excel row number."""

    headers: list[str]
    header_row: int
    rows: list[tuple[int, list[Any]]]


# --------------------------------------------------------------------------- reading the file


def limit_label(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"


def check_size(size: int) -> None:
    """Refuse a file larger than HUZHU_MAX_UPLOAD_BYTES."""
    limit = int(settings.HUZHU_MAX_UPLOAD_BYTES)
    if size > limit:
        raise RosterError(
            "accounts.roster.too_large",
            _("文件太大（%(size)s），上限为 %(limit)s。")
            % {"size": limit_label(size), "limit": limit_label(limit)},
            details={"field": "file", "size": size, "limit": limit},
        )


def max_rows() -> int:
    return int(getattr(settings, "HUZHU_ROSTER_MAX_ROWS", MAX_ROWS))


def _not_spreadsheet() -> RosterError:
    return RosterError(
        "accounts.roster.not_spreadsheet",
        _("无法识别的文件：请上传 Excel 工作簿（.xlsx）或 CSV 文本文件。"),
        details={"field": "file"},
    )


def _too_many_rows(limit: int) -> RosterError:
    return RosterError(
        "accounts.roster.too_many_rows",
        _("文件超过 %(limit)s 行数据，请拆分后分批导入。") % {"limit": limit},
        details={"field": "file", "limit": limit},
    )


def is_xlsx(data: bytes) -> bool:
    """An OOXML workbook: a zip holding [Content_Types].xml and the xl/ workbook part."""
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, ValueError):
        return False
    return "[Content_Types].xml" in names and any(
        n.startswith("xl/") and n.endswith(".xml") and "workbook" in n for n in names
    )


def _decodecell_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    elif b"\x00" in data:
        raise _not_spreadsheet()  # binary: an image, a PDF, an archive...
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _CONTROL.search(text):
            raise _not_spreadsheet()
        return text
    raise RosterError(
        "accounts.roster.encoding",
        _("无法识别 CSV 文件的编码，请保存为 UTF-8 或 GB18030（GBK）编码。"),
        details={"field": "file"},
    )


# The header is looked for among the first rows (a title row above it is common).
HEADER_SEARCH_ROWS = 10


def _alias_hits(values: list[Any]) -> int:
    return sum(1 for v in values if normalize_header(cell_text(v)) in _ALIAS_INDEX)


def _table(rows: Iterable[tuple[int, list[Any]]]) -> Table:
    """The header is the first of the first non-empty rows naming two known columns (else the
    first non-empty row); empty rows are dropped; the row limit is enforced."""
    limit = max_rows()
    candidates: list[tuple[int, list[Any]]] = []
    data: list[tuple[int, list[Any]]] = []
    header: tuple[int, list[Any]] | None = None
    for number, values in rows:
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        if header is None:
            candidates.append((number, list(values)))
            if _alias_hits(values) >= 2:
                header = candidates[-1]
                candidates = []
            elif len(candidates) >= HEADER_SEARCH_ROWS:
                header, *rest = candidates
                data.extend(rest)
                candidates = []
            continue
        if len(data) >= limit:
            raise _too_many_rows(limit)
        data.append((number, list(values)))
    if header is None and candidates:
        header, *rest = candidates
        data.extend(rest)
    if header is None:
        raise RosterError("accounts.roster.empty", _("文件中没有内容。"), details={"field": "file"})
    if len(data) > limit:
        raise _too_many_rows(limit)
    headers = [cell_text(v) for v in header[1]]
    while headers and not headers[-1]:
        headers.pop()
    return Table(headers=headers, header_row=header[0], rows=data)


def _read_xlsx(data: bytes) -> Table:
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            inflated = sum(info.file_size for info in zf.infolist())
        if inflated > MAX_INFLATION * max(int(settings.HUZHU_MAX_UPLOAD_BYTES), len(data)):
            raise _not_spreadsheet()
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except RosterError:
        raise
    except Exception:
        raise RosterError(
            "accounts.roster.unreadable",
            _("无法读取该 Excel 文件，文件可能已损坏。"),
            details={"field": "file"},
        ) from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(min_row=1, max_col=MAX_COLUMNS, values_only=True)
        return _table((i, list(r)) for i, r in enumerate(rows, start=1))
    except RosterError:
        raise
    except Exception:
        raise RosterError(
            "accounts.roster.unreadable",
            _("无法读取该 Excel 文件，文件可能已损坏。"),
            details={"field": "file"},
        ) from None
    finally:
        workbook.close()


def _read_csv(data: bytes) -> Table:
    text = _decodecell_text(data)
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    try:
        reader = csv.reader(io.StringIO(text, newline=""), dialect)
        return _table((i, list(r)[:MAX_COLUMNS]) for i, r in enumerate(reader, start=1))
    except csv.Error:
        raise _not_spreadsheet() from None


def read_table(data: bytes) -> Table:
    """Read the cells of an .xlsx or .csv file, recognised by content."""
    check_size(len(data))
    if not data.strip():
        raise RosterError("accounts.roster.empty", _("文件中没有内容。"), details={"field": "file"})
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise RosterError(
            "accounts.roster.xls",
            _("不支持旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx 或 CSV。"),
            details={"field": "file"},
        )
    if data.startswith(b"PK\x03\x04"):
        if not is_xlsx(data):
            raise _not_spreadsheet()
        return _read_xlsx(data)
    return _read_csv(data)


# --------------------------------------------------------------------------- columns


def normalize_header(header: str) -> str:
    text = re.sub(r"[（(\[【].*?[)）\]】]", "", header or "")
    return re.sub(r"[\s*＊_\-:：]+", "", text).casefold()


_ALIAS_INDEX: dict[str, str] = {
    normalize_header(alias): name for name, aliases in ALIASES.items() for alias in aliases
}


def is_known_header(header: str) -> bool:
    return normalize_header(header) in _ALIAS_INDEX


def field_label(name: str) -> str:
    return str(FIELDS[name])


def match_columns(headers: list[str], mapping: Mapping[str, str] | None = None) -> dict[int, str]:
    """Column index → field, by alias, with an explicit ``mapping`` (header → field or "")
    taking precedence. Raises RosterError naming every missing required column."""
    explicit = {normalize_header(h): (f or "").strip() for h, f in (mapping or {}).items()}
    for target in explicit.values():
        if target and target not in FIELDS:
            raise RosterError(
                "accounts.roster.bad_mapping",
                _("列对应关系中有未知字段：%(field)s。") % {"field": target},
                details={"field": "mapping"},
            )
    columns: dict[int, str] = {}
    for index, header in enumerate(headers):
        key = normalize_header(header)
        if not key:
            continue
        target = explicit[key] if key in explicit else _ALIAS_INDEX.get(key, "")
        if target:
            columns[index] = target
    seen: dict[str, list[str]] = {}
    for index, target in columns.items():
        seen.setdefault(target, []).append(headers[index])
    for target, found in seen.items():
        if len(found) > 1:
            raise RosterError(
                "accounts.roster.duplicate_column",
                _("“%(field)s”列出现了多次：%(headers)s。")
                % {"field": field_label(target), "headers": "、".join(found)},
                details={
                    "field": "mapping",
                    "column": target,
                    "headers": headers,
                    "columns": {headers[i]: f for i, f in columns.items()},
                },
            )
    missing = [f for f in REQUIRED_FIELDS if f not in columns.values()]
    if missing:
        raise RosterError(
            "accounts.roster.missing_columns",
            _("表头缺少必填列：%(columns)s。文件未导入。")
            % {"columns": "、".join(field_label(f) for f in missing)},
            details={
                "field": "file",
                "missing": missing,
                "headers": headers,
                "columns": {headers[i]: f for i, f in columns.items()},
            },
        )
    return columns


# --------------------------------------------------------------------------- cell values


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def parse_date(value: Any) -> dt.date | None:
    """A cell as a date: an Excel date, an Excel serial number, or YYYY-MM-DD (and variants)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = int(value)
        if 19000101 <= number <= 29991231:
            value = str(number)
        elif 1 <= number < 2958466:
            from openpyxl.utils.datetime import from_excel

            converted = from_excel(value)
            return converted.date() if isinstance(converted, dt.datetime) else None
        else:
            return None
    text = cell_text(value)
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None
