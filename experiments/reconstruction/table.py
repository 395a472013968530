#!/usr/bin/env python3
"""The Markdown table of a reconstruction benchmark (run.sh, fit_loss.sh) from its rows.

    table.py ROWS.tsv COLUMN...

ROWS.tsv: one line per shape and method, tab-separated: shape, method, then one value per COLUMN
("-" where a value does not apply). Prints the table, then mean rows per method over the 12 shapes
of the 12 real shapes and over all shapes. In the mean rows: "components" is left blank, "closed manifold"
counts the "yes", columns named "... s" (seconds) give "mean (max ...)", every other column its
mean with the decimals of its values; a column with a value that is not a number ("18 (fit)")
or with none at all gives "-".
"""
import collections
import sys

HARD = {"rope_knot", "thin_bowl", "nested_spheres", "touching_spheres"}  # the procedural shapes of `mash shape`


def number(v):
    try:
        return float(v)
    except ValueError:
        return None


def mean_cell(name, values):
    if name == "components":
        return ""
    if name == "closed manifold":
        return "-" if all(v == "-" for v in values) else f"{sum(v == 'yes' for v in values)}/{len(values)}"
    present = [v for v in values if v != "-"]
    nums = [number(v) for v in present]
    if not present or any(x is None for x in nums):
        return "-"
    decimals = len(present[0].split(".")[1]) if "." in present[0] else 0
    m = sum(nums) / len(nums)
    if name.endswith(" s"):
        return f"{m:.{decimals}f} (max {max(nums):.{decimals}f})"
    return f"{m:.{decimals}f}"


def main():
    rows_path, columns = sys.argv[1], sys.argv[2:]
    rows = [line.rstrip("\n").split("\t") for line in open(rows_path) if line.strip()]
    for r in rows:
        if len(r) != 2 + len(columns):
            sys.exit(f"error: {rows_path}: a row has {len(r)} fields (expected {2 + len(columns)}: shape, method, "
                     + ", ".join(columns) + ")")
    print("| shape | method | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for r in rows:
        print(f"| `{r[0]}` | " + " | ".join(r[1:]) + " |")
    for title, keep in (("12 real shapes", lambda r: r[0] not in HARD), ("all", lambda r: True)):
        by_method = collections.defaultdict(list)
        for r in rows:
            if keep(r):
                by_method[r[1]].append(r)
        for method, rs in by_method.items():
            cells = [mean_cell(c, [r[2 + i] for r in rs]) for i, c in enumerate(columns)]
            print(f"| **mean ({title}, {len(rs)})** | {method} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
