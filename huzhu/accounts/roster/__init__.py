"""Roster import and export: a community's people in and out of a spreadsheet.

The communities keep their rosters in Excel. An import is read in two steps: ``preview_roster``
reads and checks every row and writes nothing; ``import_roster`` creates the valid rows in one
transaction through the same actions every page uses, skips people whose phone number is
already registered (so a re-import creates nothing), and writes one summary audit entry besides
the per-person entries. A file whose header lacks a required column is rejected as a whole.
``export_roster`` writes the people an actor may see, with phone numbers masked, and is audited.

- ``table``: reading a file (by content), limits, header and columns, cell values;
- ``rows``: checking rows, preview and import;
- ``export``: the template, the export, the formula-safe .xlsx writer.
"""

from huzhu.accounts.roster.export import (
    XLSX_CONTENT_TYPE,
    Export,
    column_help,
    export_roster,
    exportable_people,
    safe_cell,
    template_workbook,
    workbook_bytes,
)
from huzhu.accounts.roster.rows import (
    ImportResult,
    Preview,
    RosterRow,
    RowError,
    import_roster,
    preview_roster,
    validate,
)
from huzhu.accounts.roster.table import (
    ALIASES,
    FIELDS,
    MAX_ROWS,
    REQUIRED_FIELDS,
    RosterError,
    Table,
    check_size,
    field_label,
    is_known_header,
    is_xlsx,
    limit_label,
    match_columns,
    max_rows,
    normalize_header,
    read_table,
)

__all__ = [
    "ALIASES",
    "FIELDS",
    "MAX_ROWS",
    "REQUIRED_FIELDS",
    "XLSX_CONTENT_TYPE",
    "Export",
    "ImportResult",
    "Preview",
    "RosterError",
    "RosterRow",
    "RowError",
    "Table",
    "check_size",
    "column_help",
    "export_roster",
    "exportable_people",
    "field_label",
    "import_roster",
    "is_known_header",
    "is_xlsx",
    "limit_label",
    "match_columns",
    "max_rows",
    "normalize_header",
    "preview_roster",
    "read_table",
    "safe_cell",
    "template_workbook",
    "validate",
    "workbook_bytes",
]
