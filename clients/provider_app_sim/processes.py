"""Driving the simulator (and servers) as child processes, for benchmarks.

:func:`child` runs ``python <args>`` with its standard output read as JSON lines
(the simulator's ``--json`` stats, the null server's counters) into
:attr:`Child.lines`; :func:`cpu_s` and :func:`rss_kb` read a process's CPU time
and resident memory from ``/proc`` (Linux).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

STOP_TIMEOUT_S = 60.0
"""Longest wait for a child to exit after SIGINT (thousands of sockets to close);
then it is killed."""

POLL_S = 0.2
"""How often :meth:`Child.wait_line` looks at new lines."""

LATEST_TIMEOUT_S = 10.0
"""Longest wait for a fresh line in :meth:`Child.latest`."""


def raise_open_file_limit() -> int:
    """Raise this process's open-file limit to its hard limit (children inherit it);
    returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


def rss_kb(pid: int) -> int:
    """Resident set size of a process, in KiB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port free on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Child:
    """A child process and the JSON objects it printed, one per line.

    Attributes:
        name: for messages and its log file.
        proc: the process.
        stderr_path: where its standard error goes.
        lines: every JSON object it printed on standard output, in order.
    """

    name: str
    proc: asyncio.subprocess.Process
    stderr_path: Path
    lines: list[dict[str, Any]] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    def start_reading(self) -> None:
        """Collect standard output's JSON lines in a task that :meth:`stop` awaits."""
        self._reader = asyncio.create_task(self._read(), name=f"{self.name}-stdout")

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            with contextlib.suppress(orjson.JSONDecodeError):
                line = orjson.loads(raw)
                if isinstance(line, dict):
                    self.lines.append(line)

    def check_alive(self) -> None:
        """Raise, with the end of its standard error, if the process has exited."""
        if self.proc.returncode is not None:
            tail = self.stderr_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")

    async def wait_line(
        self, check: Callable[[dict[str, Any]], bool], timeout_s: float, what: str
    ) -> dict[str, Any]:
        """The first line, printed already or to come, that passes ``check``.

        Raises:
            RuntimeError: the process exited, or ``timeout_s`` passed (``what`` says
                what was awaited).
        """
        deadline = time.monotonic() + timeout_s
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if check(line):
                    return line
            seen = len(self.lines)
            self.check_alive()
            if time.monotonic() > deadline:
                last = self.lines[-1] if self.lines else None
                raise RuntimeError(f"{self.name}: {what} (last line: {last})")
            await asyncio.sleep(POLL_S)

    async def latest(self) -> dict[str, Any]:
        """The next line printed from now on (the freshest counters)."""
        count = len(self.lines)
        return await self.wait_line(lambda _: len(self.lines) > count, LATEST_TIMEOUT_S, "silent")

    async def stop(self) -> None:
        """SIGINT the process and wait for it (killed after :data:`STOP_TIMEOUT_S`)."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            await self._reader


@contextlib.asynccontextmanager
async def child(
    name: str,
    args: Sequence[str],
    logs: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    cpus: Set[int] | None = None,
) -> AsyncIterator[Child]:
    """Run ``python args...`` (this interpreter); its stderr goes to
    ``logs/<name>.log``. The process is stopped when the block ends.

    ``cpus``: the cores it may run on (Linux), set as soon as it starts, before it
    starts any thread (its threads inherit them); ``None``: any."""
    stderr_path = logs / f"{name}.log"
    with stderr_path.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    if cpus is not None:
        os.sched_setaffinity(proc.pid, cpus)
    process = Child(name, proc, stderr_path)
    process.start_reading()
    try:
        yield process
    finally:
        await process.stop()
