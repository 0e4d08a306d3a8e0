"""Regenerate the settings tables the docs embed, from the code (``make docs``).

Every ``<!-- settings-table: module.Class -->`` ... ``<!-- end settings-table -->`` block of the
Markdown files named (default: ``docs/*.md`` and ``README.md``) is rewritten from the settings
class's fields; ``tests/test_docs.py`` fails when a committed doc is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

from orbitlink.tracking.settings import update_settings_tables

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
    for path in paths:
        text = path.read_text()
        new = update_settings_tables(text)
        if new != text:
            path.write_text(new)
            print(f"updated {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
