"""Fit the element-set error model on two catalogue snapshots and write its table.

    python tools/fit_error_model.py OLD NEW [--out PATH]

OLD holds the element sets under test, NEW the truth (a later snapshot of the same objects:
folders or files that ``Catalogue.from_path`` reads). Prints the fit (the tables that
docs/error-model.md quotes) and writes the JSON table, by default over the one orbitlink ships.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.element_error import write_element_error_model
from orbitlink.tracking.element_error_fit import fit_element_error_model, format_fit_report

SHIPPED_TABLE = Path(__file__).resolve().parent.parent / "tracking" / "data" / "element_error.json"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="older snapshot: the element sets under test")
    parser.add_argument("new", type=Path, help="newer snapshot: the truth")
    parser.add_argument(
        "--out", type=Path, default=SHIPPED_TABLE, help=f"table to write (default {SHIPPED_TABLE})"
    )
    args = parser.parse_args(argv)
    rejects: list = []
    older = Catalogue.from_path(args.old, rejects=rejects)
    newer = Catalogue.from_path(args.new, rejects=rejects)
    for reject in rejects:
        print(f"skipped: {reject.error}", file=sys.stderr)
    source = {"older": args.old.resolve().name, "newer": args.new.resolve().name}
    model, diagnostics = fit_element_error_model(older, newer, source=source)
    print(format_fit_report(model, diagnostics), end="")
    write_element_error_model(model, args.out)
    print(f"\nWrote {args.out}")


if __name__ == "__main__":
    main()
