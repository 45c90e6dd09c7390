"""``make bench``: run every benchmark module and record docs/benchmarks.md.

A benchmark module is ``bench/bench_<name>.py`` with ``async def run(settings) ->
list[Figure]``. Each figure is recorded beside the raw baseline measured in the same
run, with the machine and the date, so that numbers from different machines are
never compared directly. Benchmarks are not tests: nothing here passes or fails on
timing; the targets are written beside the figures for people to read.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Figure, merge, render_section
from server.settings import PROJECT_ROOT, load_settings

OUTPUT = PROJECT_ROOT / "docs" / "benchmarks.md"


def _modules(only: set[str]) -> list[str]:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    return [n for n in names if not only or n.removeprefix("bench_") in only]


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


async def _run(names: list[str]) -> dict[str, list[Figure]]:
    settings = load_settings()
    results: dict[str, list[Figure]] = {}
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"[bench] {name}", flush=True)
        results[name] = await module.run(settings)
    return results


def main(argv: list[str]) -> int:
    names = _modules(set(argv))
    results = asyncio.run(_run(names))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    fresh = {
        name.removeprefix("bench_"): render_section(name, figures, machine=_machine(), date=stamp)
        for name, figures in results.items()
    }
    previous = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
    OUTPUT.write_text(merge(previous, fresh), encoding="utf-8")
    print(f"[bench] results written to {OUTPUT.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
