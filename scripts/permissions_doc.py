"""Print the roles → permissions table of docs/permissions.md from huzhu.accounts.policy.

tests/test_docs.py checks that the document contains exactly these rows.
"""

import os
import sys

import django

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from huzhu.accounts.models import Role  # noqa: E402
from huzhu.accounts.policy import PERMISSIONS  # noqa: E402


def table() -> str:
    roles = list(Role)
    head = "| permission | " + " | ".join(r.value for r in roles) + " |"
    sep = "|---|" + "---|" * len(roles)
    rows = [
        f"| `{perm}` | " + " | ".join("✓" if r.value in held else "" for r in roles) + " |"
        for perm, held in sorted(PERMISSIONS.items())
    ]
    return "\n".join([head, sep, *rows])


if __name__ == "__main__":
    print(table())  # noqa: T201
