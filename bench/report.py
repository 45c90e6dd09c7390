"""Benchmark figures and their Markdown rendering.

docs/benchmarks.md holds one section per benchmark module, each stamped with the
machine and the date it was measured on; running some modules replaces only their
sections, so figures measured on another day keep their own stamp.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass

HEADER = """# Benchmarks

Written by `make bench` (or `.venv/bin/python -m bench NAME...` for some of them;
`make bench QUICK=1` writes `.var/bench/quick.md` instead).
Each figure sits beside the raw baseline measured in the same run on the same
machine; each section says which machine and when.
"""
_SECTION = re.compile(r"^## (\S+)\n", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure, with the baseline measured beside it in the same run."""

    name: str
    value: float
    unit: str
    target: str = ""
    baseline_name: str = ""
    baseline_value: float | None = None

    @property
    def ratio(self) -> float | None:
        if not self.baseline_value:
            return None
        return self.value / self.baseline_value


RATE_UNIT = "/s"
"""A figure in this unit is a rate: rendered with a k or M prefix ("5.34 k/s")."""

_PREFIXES = ((1e6, "M"), (1e3, "k"))


def format_number(value: float) -> str:
    """Three significant digits, never in exponent notation; from 1,000 up, whole
    numbers with thousands separators ("0.974", "78.1", "874", "1,235")."""
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, 2 - math.floor(math.log10(magnitude)))
    return f"{value:.{decimals}f}"


def format_quantity(value: float, unit: str) -> str:
    """``value`` with its unit; rates get an SI prefix (5,338 /s: "5.34 k/s")."""
    if unit == RATE_UNIT:
        for scale, prefix in _PREFIXES:
            if abs(value) >= scale:
                return f"{format_number(value / scale)} {prefix}{unit}"
        return f"{format_number(value)} {unit}"
    return f"{format_number(value)} {unit}".rstrip()


def module_notes(module: str) -> str:
    """The ``NOTES`` (Markdown: what the figures mean) of ``bench.<module>``, if it
    is loaded and has them."""
    notes = getattr(sys.modules.get(f"bench.{module}"), "NOTES", "")
    return notes.strip() if isinstance(notes, str) else ""


def render_section(
    module: str, figures: list[Figure], *, machine: str, date: str, notes: str | None = None
) -> str:
    """A module's section: its stamp, its notes (by default :func:`module_notes`),
    then its figures."""
    notes = module_notes(module) if notes is None else notes.strip()
    lines = [f"## {module.removeprefix('bench_')}", "", f"Measured {date} on {machine}.", ""]
    if notes:
        lines += [notes, ""]
    lines += ["| figure | value | baseline | ratio | target |", "|---|---|---|---|---|"]
    for f in figures:
        baseline = (
            f"{f.baseline_name}: {format_quantity(f.baseline_value, f.unit)}"
            if f.baseline_value is not None
            else ""
        )
        ratio = f"{f.ratio:.2f}×" if f.ratio is not None else ""
        value = format_quantity(f.value, f.unit)
        lines.append(f"| {f.name} | {value} | {baseline} | {ratio} | {f.target} |")
    return "\n".join(lines) + "\n"


def sections(text: str) -> dict[str, str]:
    """The sections of an existing benchmarks.md, by module name."""
    found = list(_SECTION.finditer(text))
    return {
        match[1]: text[match.start() : found[i + 1].start() if i + 1 < len(found) else None]
        for i, match in enumerate(found)
    }


def merge(previous: str, fresh: dict[str, str]) -> str:
    """The document with ``fresh`` sections replacing (or joining) the previous ones."""
    kept = {**sections(previous), **fresh}
    body = "\n".join(kept[name].rstrip("\n") + "\n" for name in sorted(kept))
    return HEADER + "\n" + body
