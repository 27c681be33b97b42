"""The difference between two texts, line by line (difflib), as side-by-side rows for the page
and as a unified diff for the API. Pure: no database, no HTML — the template escapes every
line like any other text, so a document's text can never inject markup."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from itertools import zip_longest

CONTEXT = 3  # unchanged lines kept around each change


@dataclass(frozen=True)
class Row:
    """One row of a side-by-side diff. ``kind``: equal, change, delete, insert, or skip (a run
    of ``skipped`` unchanged lines left out)."""

    kind: str
    old_no: int | None = None
    old: str = ""
    new_no: int | None = None
    new: str = ""
    skipped: int = 0


@dataclass(frozen=True)
class Diff:
    rows: list[Row]
    added: int
    removed: int

    @property
    def unchanged(self) -> bool:
        return self.added == 0 and self.removed == 0


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def side_by_side(old: str, new: str, context: int | None = CONTEXT) -> Diff:
    """The rows that turn ``old`` into ``new``; with ``context``, long unchanged runs are
    folded into one skip row (None keeps every line)."""
    a, b = _lines(old), _lines(new)
    rows: list[Row] = []
    added = removed = 0
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            pairs = [
                Row("equal", i + 1, a[i], j + 1, b[j])
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            ]
            if context is not None and len(pairs) > 2 * context:
                head = pairs[:context] if index > 0 else []
                tail = pairs[-context:] if index < len(opcodes) - 1 else []
                skipped = len(pairs) - len(head) - len(tail)
                pairs = [*head, Row("skip", skipped=skipped), *tail] if skipped else pairs
            rows.extend(pairs)
            continue
        removed += i2 - i1
        added += j2 - j1
        if tag == "delete":
            rows.extend(Row("delete", i + 1, a[i]) for i in range(i1, i2))
        elif tag == "insert":
            rows.extend(Row("insert", new_no=j + 1, new=b[j]) for j in range(j1, j2))
        else:  # replace: pair the lines up, the longer side continues alone
            for i, j in zip_longest(range(i1, i2), range(j1, j2)):
                if i is None:
                    rows.append(Row("insert", new_no=j + 1, new=b[j]))
                elif j is None:
                    rows.append(Row("delete", i + 1, a[i]))
                else:
                    rows.append(Row("change", i + 1, a[i], j + 1, b[j]))
    return Diff(rows, added, removed)


def unified(old: str, new: str, old_label: str, new_label: str) -> str:
    """A unified diff (``---``/``+++``/``@@`` with three lines of context)."""
    return "\n".join(
        difflib.unified_diff(
            _lines(old), _lines(new), fromfile=old_label, tofile=new_label, lineterm=""
        )
    )
