"""docs/benchmarks.md keeps the sections of modules that were not run again."""

from __future__ import annotations

from bench.report import HEADER, Figure, merge, render_section, sections


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
    assert "| q p99 | 4 ms | pk p99: 1 ms | 4.00× | p99 < 20 ms |" in parts["search"]
    assert updated.startswith(HEADER)
