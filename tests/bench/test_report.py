"""docs/benchmarks.md keeps the sections of modules that were not run again."""

from __future__ import annotations

import pytest

from bench.report import (
    HEADER,
    RATE_UNIT,
    Figure,
    format_quantity,
    merge,
    render_section,
    sections,
)


def test_a_run_replaces_only_its_own_sections() -> None:
    old_search = render_section(
        "bench_search", [Figure("q p99", 5.0, "ms")], machine="A", date="2026-01-01"
    )
    old_import = render_section(
        "bench_import", [Figure("rows", 20.0, "s")], machine="A", date="2026-01-01"
    )
    document = merge("", {"search": old_search, "import": old_import})
    new_search = render_section(
        "bench_search",
        [Figure("q p99", 4.0, "ms", "p99 < 20 ms", "pk p99", 1.0)],
        machine="B",
        date="2026-02-02",
    )
    updated = merge(document, {"search": new_search})
    parts = sections(updated)
    assert set(parts) == {"search", "import"}
    assert "Measured 2026-01-01 on A" in parts["import"]
    assert "Measured 2026-02-02 on B" in parts["search"]
    assert "| q p99 | 4.00 ms | pk p99: 1.00 ms | 4.00× | p99 < 20 ms |" in parts["search"]
    assert updated.startswith(HEADER)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (5338.0, RATE_UNIT, "5.34 k/s"),
        (16_300.0, RATE_UNIT, "16.3 k/s"),
        (2000.0, RATE_UNIT, "2.00 k/s"),
        (850.0, RATE_UNIT, "850 /s"),
        (1_250_000.0, RATE_UNIT, "1.25 M/s"),
        (0.974, "cores", "0.974 cores"),
        (78.14, "KiB", "78.1 KiB"),
        (1310.4, "ms", "1,310 ms"),
        (0.000123, "s", "0.000123 s"),
        (100.0, "%", "100 %"),
    ],
)
def test_figures_are_readable(value: float, unit: str, text: str) -> None:
    assert format_quantity(value, unit) == text


def test_no_figure_is_written_in_exponent_notation() -> None:
    figure = Figure("rate", 5338.0, RATE_UNIT, "", "bare", 16_312.0)
    row = render_section("bench_x", [figure], machine="A", date="d").splitlines()[-1]
    assert row == "| rate | 5.34 k/s | bare: 16.3 k/s | 0.33× |  |"
    assert "e+" not in row


def test_notes_go_between_the_stamp_and_the_table() -> None:
    text = render_section("bench_x", [], machine="A", date="d", notes="What it means.\n")
    assert text.splitlines()[2:7] == [
        "Measured d on A.",
        "",
        "What it means.",
        "",
        "| figure | value | baseline | ratio | target |",
    ]
    assert "What" not in render_section("bench_y", [], machine="A", date="d")


def test_a_quick_run_leaves_out_the_long_modules_unless_named() -> None:
    from bench.__main__ import QUICK_SKIPPED, _modules

    full, quick = _modules(set()), _modules(set(), quick=True)
    assert set(full) >= QUICK_SKIPPED and not QUICK_SKIPPED & set(quick)
    assert set(full) - set(quick) == QUICK_SKIPPED
    assert _modules({"city"}, quick=True) == ["bench_city"]
