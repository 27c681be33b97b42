"""Scan log files for plaintext phone and ID numbers (issue 7, acceptance 4).

``make test`` writes the suite's logs to ``test-output/logs/suite-<db>.log`` (``HUZHU_LOG_FILE``,
docs/configuration.md) and then runs::

    python -m huzhu.core.logscan test-output/logs/suite-sqlite.log

which exits with status 1 and lists each leak (file, line, masked excerpt) when a line holds a
number ``MaskPIIFilter`` would have masked, i.e. a record that reached a file without the filter.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from huzhu.core.logging import find_plaintext, mask_text


@dataclass(frozen=True)
class Leak:
    path: str
    line: int
    excerpt: str  # the line, masked: the report must not repeat the leak

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.excerpt}"


def scan_file(path: Path) -> list[Leak]:
    leaks: list[Leak] = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if find_plaintext(line):
                leaks.append(Leak(str(path), number, mask_text(line.rstrip())[:200]))
    return leaks


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        sys.stderr.write("usage: python -m huzhu.core.logscan LOGFILE...\n")
        return 2
    status = 0
    out = sys.stdout
    for path in paths:
        if not path.is_file():
            sys.stderr.write(f"logscan: {path} does not exist (were the logs written?)\n")
            status = 2
            continue
        leaks = scan_file(path)
        if leaks:
            status = max(status, 1)
            out.write(
                f"logscan: {len(leaks)} line(s) of {path} hold a plaintext phone or ID number:\n"
            )
            for leak in leaks[:50]:
                out.write(f"  {leak}\n")
        else:
            out.write(f"logscan: {path}: no plaintext phone or ID numbers\n")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
