"""Benchmark figures and their Markdown rendering.

docs/benchmarks.md holds one section per benchmark module, each stamped with the
machine and the date it was measured on; running some modules replaces only their
sections, so figures measured on another day keep their own stamp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADER = """# Benchmarks

Written by `make bench` (or `.venv/bin/python -m bench NAME...` for some of them).
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


def render_section(module: str, figures: list[Figure], *, machine: str, date: str) -> str:
    lines = [
        f"## {module.removeprefix('bench_')}",
        "",
        f"Measured {date} on {machine}.",
        "",
        "| figure | value | baseline | ratio | target |",
        "|---|---|---|---|---|",
    ]
    for f in figures:
        baseline = (
            f"{f.baseline_name}: {f.baseline_value:.3g} {f.unit}"
            if f.baseline_value is not None
            else ""
        )
        ratio = f"{f.ratio:.2f}×" if f.ratio is not None else ""
        lines.append(f"| {f.name} | {f.value:.3g} {f.unit} | {baseline} | {ratio} | {f.target} |")
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
