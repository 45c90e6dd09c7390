"""Benchmark figures and their Markdown rendering."""

from __future__ import annotations

from dataclasses import dataclass


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


def render(results: dict[str, list[Figure]], *, machine: str, date: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench`; each figure sits beside the raw baseline measured in",
        "the same run on the same machine.",
        "",
        f"- machine: {machine}",
        f"- date: {date}",
        "",
    ]
    if not results:
        lines.append("No benchmark modules yet.")
    for module, figures in results.items():
        lines += [
            f"## {module.removeprefix('bench_')}",
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
            lines.append(
                f"| {f.name} | {f.value:.3g} {f.unit} | {baseline} | {ratio} | {f.target} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"
