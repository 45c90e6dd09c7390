"""The demo's companions: ``acionar serve --demo``, which ``make run`` uses.

Once the server answers ``/readyz``, two programs run beside it as child processes,
and stop with it (docs/simulator.md, "The demo"):

* the provider simulator for the demo providers (``DEMO_SIMULATOR``): their apps
  connect, stream positions, answer offers and drive the jobs they win;
* a gentle stream of demo calls (``DEMO_CALLS``, ``DEMO_CALLS_PER_MIN``): incidents
  and tows over São Paulo, dispatched automatically.

Either setting at ``false`` leaves that one out. The simulator and the scenario are
clients of the public API and protocol, kept out of the server's imports
(tests/test_imports.py): they run as their own programs, their output in
``.var/demo/``.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from server.settings import PROJECT_ROOT, Settings

log = logging.getLogger("acionar.demo")

READY_WAIT_S = 120.0  # the server's start-up, migrations done, may take this long
READY_POLL_S = 0.5
STOP_WAIT_S = 10.0  # a companion gets this long to stop before it is killed
DEMO_TIME_SCALE = 3.0  # providers drive 3× faster: the demo moves, its fixes still pass
DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Companion:
    name: str
    argv: list[str]


def companions(settings: Settings, base_url: str) -> list[Companion]:
    """The programs the demo runs beside a server at ``base_url`` (pure)."""
    python = sys.executable
    found = []
    if settings.demo_simulator:
        found.append(
            Companion(
                "providers",
                [
                    *(python, "-m", "clients.provider_app_sim.providers", "--url", base_url),
                    *("--mint", "--count", str(settings.demo_sim_providers)),
                    *("--time-scale", str(DEMO_TIME_SCALE), "--stats-every", "60"),
                ],
            )
        )
    if settings.demo_calls:
        found.append(
            Companion(
                "calls",
                [
                    *(python, "-m", "clients.city_scenario", "--url", base_url, "--once"),
                    *("--quiet", "--rate", str(settings.demo_calls_per_min)),
                    *("--duration", str(DAY_S), "--seed", str(int(time.time()))),
                ],
            )
        )
    return found


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Companions:
    """Starts the companions when the server is ready; stops them with it."""

    def __init__(self, settings: Settings, base_url: str, logs: Path | None = None) -> None:
        self.planned = companions(settings, base_url)
        self.base_url = base_url
        self.logs = logs or PROJECT_ROOT / settings.local_services_dir / "demo"
        self.running: list[subprocess.Popen[bytes]] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._start_when_ready, daemon=True)

    def start(self) -> None:
        if self.planned:
            self._thread.start()

    def _start_when_ready(self) -> None:
        deadline = time.monotonic() + READY_WAIT_S
        while not _ready(self.base_url):
            if self._stopping.wait(READY_POLL_S) or time.monotonic() > deadline:
                return
        self.logs.mkdir(parents=True, exist_ok=True)
        for companion in self.planned:
            if self._stopping.is_set():
                return
            with (self.logs / f"{companion.name}.log").open("ab") as out:  # the child keeps its own
                self.running.append(
                    subprocess.Popen(
                        companion.argv, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT
                    )
                )
            log.info(
                "demo: %s started (log: %s)", companion.name, self.logs / f"{companion.name}.log"
            )

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(READY_POLL_S * 4)
        for process in self.running:
            process.terminate()
        for process in self.running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_WAIT_S)
            if process.poll() is None:
                process.kill()
                process.wait()
