"""``make bench``: run every benchmark module and record docs/benchmarks.md.

A benchmark module is ``bench/bench_<name>.py`` with ``async def run(settings) ->
list[Figure]``. Each figure is recorded beside the raw baseline measured in the same
run, with the machine and the date, so that numbers from different machines are
never compared directly. Benchmarks are not tests: nothing here passes or fails on
timing; the targets are written beside the figures for people to read.

``QUICK=1`` (``make bench QUICK=1``, what a reviewer runs: under 3 minutes on 2
cores) runs each module at a smaller size, leaves out the modules that only mean
something over many minutes (``QUICK_SKIPPED``: the city scenario, the soak, the
two-node scaling), and writes ``.var/bench/quick.md`` instead of docs/benchmarks.md,
which keeps the full run.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Figure, merge, render_section
from server.settings import PROJECT_ROOT, load_settings

OUTPUT = PROJECT_ROOT / "docs" / "benchmarks.md"
QUICK = os.environ.get("QUICK") == "1"
QUICK_OUTPUT = PROJECT_ROOT / ".var" / "bench" / "quick.md"
QUICK_SKIPPED = frozenset({"bench_city", "bench_soak", "bench_scaling"})
"""Modules whose figures need many minutes (run them by name: ``python -m bench city``)."""


def _modules(only: set[str], quick: bool = False) -> list[str]:
    """The modules to run: those named (all by default; in a quick run, all but the
    long ones)."""
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    if only:
        return [n for n in names if n.removeprefix("bench_") in only]
    return [n for n in names if not (quick and n in QUICK_SKIPPED)]


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
        started = time.monotonic()
        results[name] = await module.run(settings)
        print(f"[bench] {name}: {time.monotonic() - started:.0f} s", flush=True)
    return results


def main(argv: list[str]) -> int:
    names = _modules(set(argv), QUICK)
    started = time.monotonic()
    results = asyncio.run(_run(names))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    fresh = {
        name.removeprefix("bench_"): render_section(name, figures, machine=_machine(), date=stamp)
        for name, figures in results.items()
    }
    output = QUICK_OUTPUT if QUICK else OUTPUT
    output.parent.mkdir(parents=True, exist_ok=True)
    previous = output.read_text(encoding="utf-8") if output.exists() else ""
    output.write_text(merge(previous, fresh), encoding="utf-8")
    if QUICK:
        print("\n".join(fresh.values()))
    took = time.monotonic() - started
    written = output.relative_to(PROJECT_ROOT)
    print(f"[bench] {len(names)} modules in {took:.0f} s; written to {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
