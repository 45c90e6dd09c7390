"""Project-local PostgreSQL + PostGIS and Redis instances for development and tests.

``acionar services up`` makes sure that the services Acionar needs are reachable:

* when ``DATABASE_URL`` / ``REDIS_URL`` are set, nothing local is started for them;
* otherwise it installs the Debian packages it needs when they are missing
  (``postgresql``, ``postgresql-<major>-postgis-3``, ``redis-server``), creates the
  instances under ``LOCAL_SERVICES_DIR`` (``.var/`` by default) and starts them on
  loopback-only, non-standard ports, so that a PostgreSQL or Redis already running on
  the standard ports is neither used nor disturbed.

PostgreSQL refuses to run as root, so when we are root the cluster is created and run
by the ``postgres`` OS user. The local cluster trusts loopback connections: it is a
development instance bound to 127.0.0.1; production uses ``DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from server.errors import PackageInstallError, ServicesError
from server.settings import Settings

PG_SUPERUSER = "acionar"
PG_DATABASE = "acionar"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 600.0


@dataclass(frozen=True, slots=True)
class LocalPaths:
    """Where the local instances keep their files."""

    root: Path

    @property
    def pg_root(self) -> Path:
        return self.root / "postgres"

    @property
    def pg_data(self) -> Path:
        return self.pg_root / "data"

    @property
    def pg_log(self) -> Path:
        return self.pg_root / "postgres.log"

    @property
    def pg_socket_dir(self) -> Path:
        return self.pg_root / "run"

    @property
    def redis_root(self) -> Path:
        return self.root / "redis"

    @property
    def redis_pidfile(self) -> Path:
        return self.redis_root / "redis.pid"


def _run(cmd: list[str], *, as_user: str | None = None, check: bool = True) -> str:
    """Run a command (as another OS user when given), returning its output."""
    if as_user:
        cmd = ["runuser", "-u", as_user, "--", *cmd]
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()[-2000:]
        raise ServicesError(f"command failed ({result.returncode}): {' '.join(cmd)}\n{detail}")
    return result.stdout


def _is_root() -> bool:
    return os.geteuid() == 0


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


# -- Debian packages -----------------------------------------------------------------


def pg_bin_dir() -> Path | None:
    """The bin directory of the newest installed PostgreSQL server, if any."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


def _pg_major(bin_dir: Path) -> str:
    return bin_dir.parent.name


def _postgis_installed(major: str) -> bool:
    return Path(f"/usr/share/postgresql/{major}/extension/postgis.control").is_file()


class _Apt:
    """apt-get with one ``update`` before the first install of this run."""

    def __init__(self) -> None:
        self._updated = False

    def install(self, *packages: str) -> None:
        if not shutil.which("apt-get"):
            raise PackageInstallError(
                f"{' '.join(packages)} missing and apt-get is not available: install them,"
                " or set DATABASE_URL / REDIS_URL to running servers"
            )
        prefix: list[str] = []
        if not _is_root():
            if not shutil.which("sudo"):
                raise PackageInstallError(
                    f"{' '.join(packages)} missing: run as root or install them by hand"
                )
            prefix = ["sudo", "-n"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        steps = [] if self._updated else [[*prefix, "apt-get", "update", "-q"]]
        steps.append(
            [*prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
        )
        for step in steps:
            print(f"[services] {' '.join(step)}", flush=True)
            result = subprocess.run(
                step,
                env=env,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_S,
                check=False,
            )
            if result.returncode != 0:
                raise PackageInstallError(
                    f"{' '.join(step)} failed:\n{(result.stderr or result.stdout)[-2000:]}"
                )
        self._updated = True


def ensure_packages(settings: Settings) -> None:
    """Install the Debian packages the local instances need, when missing."""
    apt = _Apt()
    if settings.uses_local_postgres:
        if pg_bin_dir() is None:
            apt.install("postgresql")
        bin_dir = pg_bin_dir()
        if bin_dir is None:
            raise PackageInstallError("PostgreSQL installed but no initdb found")
        major = _pg_major(bin_dir)
        if not _postgis_installed(major):
            apt.install(f"postgresql-{major}-postgis-3")
    if settings.uses_local_redis and not shutil.which("redis-server"):
        apt.install("redis-server")


# -- PostgreSQL ----------------------------------------------------------------------


def _pg_user() -> str | None:
    """The OS user that runs the local cluster: ``postgres`` when we are root."""
    return "postgres" if _is_root() else None


def _prepare_pg_dirs(paths: LocalPaths) -> None:
    paths.pg_root.mkdir(parents=True, exist_ok=True)
    paths.pg_socket_dir.mkdir(parents=True, exist_ok=True)
    user = _pg_user()
    if user is None:
        return
    shutil.chown(paths.pg_root, user, user)
    shutil.chown(paths.pg_socket_dir, user, user)
    check = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-w", str(paths.pg_root)], check=False
    )
    if check.returncode != 0:
        raise ServicesError(
            f"the {user} OS user cannot reach {paths.pg_root} (a parent folder is private,"
            f" such as /root). Clone the project under a folder that {user} can traverse,"
            " set LOCAL_SERVICES_DIR to one, or set DATABASE_URL to a running server."
        )


def pg_running(paths: LocalPaths) -> bool:
    bin_dir = pg_bin_dir()
    if bin_dir is None or not (paths.pg_data / "PG_VERSION").is_file():
        return False
    cmd = [str(bin_dir / "pg_ctl"), "status", "-D", str(paths.pg_data)]
    user = _pg_user()
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def start_postgres(settings: Settings, paths: LocalPaths) -> None:
    """Create (first time) and start the local cluster, then its database."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        raise ServicesError("PostgreSQL is not installed")
    _prepare_pg_dirs(paths)
    user = _pg_user()
    if not (paths.pg_data / "PG_VERSION").is_file():
        print(f"[services] initdb {paths.pg_data}", flush=True)
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(paths.pg_data),
                "-U",
                PG_SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            as_user=user,
        )
    if not pg_running(paths):
        if _port_open(settings.local_pg_port):
            raise ServicesError(
                f"port {settings.local_pg_port} is taken by another program: "
                "set LOCAL_PG_PORT to a free port"
            )
        options = (
            f"-p {settings.local_pg_port} -c listen_addresses=127.0.0.1"
            f" -k {paths.pg_socket_dir} -c max_connections=200"
            " -c shared_buffers=256MB"
        )
        print(f"[services] postgres on 127.0.0.1:{settings.local_pg_port}", flush=True)
        _run(
            [
                str(bin_dir / "pg_ctl"),
                "start",
                "-w",
                "-t",
                str(int(START_TIMEOUT_S)),
                "-D",
                str(paths.pg_data),
                "-l",
                str(paths.pg_log),
                "-o",
                options,
            ],
            as_user=user,
        )
    asyncio.run(_create_database(settings.local_pg_port))


async def _create_database(port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            conn = await asyncpg.connect(
                host="127.0.0.1", port=port, user=PG_SUPERUSER, database="postgres", timeout=5
            )
            break
        except (OSError, asyncpg.PostgresError) as exc:
            if time.monotonic() > deadline:
                raise ServicesError(f"local PostgreSQL did not accept connections: {exc}") from exc
            await asyncio.sleep(0.2)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", PG_DATABASE)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    finally:
        await conn.close()


def stop_postgres(paths: LocalPaths) -> bool:
    """Stop the local cluster; False when it was not running."""
    bin_dir = pg_bin_dir()
    if bin_dir is None or not pg_running(paths):
        return False
    _run(
        [
            str(bin_dir / "pg_ctl"),
            "stop",
            "-m",
            "fast",
            "-w",
            "-t",
            str(int(STOP_TIMEOUT_S)),
            "-D",
            str(paths.pg_data),
        ],
        as_user=_pg_user(),
    )
    return True


# -- Redis ---------------------------------------------------------------------------


def _redis_pid(paths: LocalPaths) -> int | None:
    """The pid of our Redis when its pidfile names a live process."""
    try:
        pid = int(paths.redis_pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def redis_running(paths: LocalPaths) -> bool:
    return _redis_pid(paths) is not None


def start_redis(settings: Settings, paths: LocalPaths) -> None:
    """Start the local Redis (no persistence: it holds only rebuildable data)."""
    if redis_running(paths):
        return
    port = settings.local_redis_port
    if _port_open(port):
        raise ServicesError(f"port {port} is taken by another program: set LOCAL_REDIS_PORT")
    paths.redis_root.mkdir(parents=True, exist_ok=True)
    server = shutil.which("redis-server")
    if server is None:
        raise ServicesError("redis-server is not installed")
    print(f"[services] redis on 127.0.0.1:{port}", flush=True)
    _run(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--dir",
            str(paths.redis_root),
            "--pidfile",
            str(paths.redis_pidfile),
            "--logfile",
            str(paths.redis_root / "redis.log"),
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxclients",
            "20000",
        ]
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _port_open(port):
        if time.monotonic() > deadline:
            raise ServicesError(f"local Redis did not start: see {paths.redis_root}/redis.log")
        time.sleep(0.05)


def stop_redis(paths: LocalPaths) -> bool:
    """Stop the local Redis; False when it was not running."""
    pid = _redis_pid(paths)
    if pid is None:
        return False
    os.kill(pid, 15)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _redis_pid(paths) is not None:
        if time.monotonic() > deadline:
            raise ServicesError(f"Redis (pid {pid}) did not stop")
        time.sleep(0.05)
    return True


# -- commands ------------------------------------------------------------------------


def services_up(settings: Settings) -> list[str]:
    """Make sure the services are reachable; returns one line per service."""
    paths = LocalPaths(settings.services_dir)
    lines = []
    ensure_packages(settings)
    if settings.uses_local_postgres:
        start_postgres(settings, paths)
        lines.append(f"postgresql: local, 127.0.0.1:{settings.local_pg_port} ({paths.pg_data})")
    else:
        lines.append("postgresql: DATABASE_URL (nothing started)")
    if settings.uses_local_redis:
        start_redis(settings, paths)
        lines.append(f"redis: local, 127.0.0.1:{settings.local_redis_port}")
    else:
        lines.append("redis: REDIS_URL (nothing started)")
    return lines


def services_down(settings: Settings) -> list[str]:
    """Stop the local instances that are running."""
    paths = LocalPaths(settings.services_dir)
    pg = stop_postgres(paths)
    rd = stop_redis(paths)
    return [
        "postgresql: stopped" if pg else "postgresql: was not running",
        "redis: stopped" if rd else "redis: was not running",
    ]


def services_status(settings: Settings) -> list[str]:
    paths = LocalPaths(settings.services_dir)
    pg = (
        "DATABASE_URL"
        if not settings.uses_local_postgres
        else (f"running on 127.0.0.1:{settings.local_pg_port}" if pg_running(paths) else "stopped")
    )
    rd = (
        "REDIS_URL"
        if not settings.uses_local_redis
        else (
            f"running on 127.0.0.1:{settings.local_redis_port}"
            if redis_running(paths)
            else "stopped"
        )
    )
    return [f"postgresql: {pg}", f"redis: {rd}"]
