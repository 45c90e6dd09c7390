"""The ``acionar`` console command.

Subcommands: ``serve``, ``migrate``, ``seed-demo``, ``create-user``,
``services up|down|status``, ``sim providers ...``, ``sim city ...``. Each prints what it did and
exits non-zero, with one clear line on standard error, when it could not.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import os
import sys
from collections.abc import Sequence

from registry.errors import RegistryError
from server.errors import AcionarServerError
from server.settings import Settings, load_settings


def _cmd_services(settings: Settings, args: argparse.Namespace) -> None:
    from server import services

    action = {
        "up": services.services_up,
        "down": services.services_down,
        "status": services.services_status,
    }[args.action]
    for line in action(settings):
        print(line)


def _cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    from server.migrate import upgrade

    upgrade(settings.effective_database_url, args.revision)
    print(f"database migrated to {args.revision}")


def _cmd_seed_demo(settings: Settings, args: argparse.Namespace) -> None:
    from server.demo import seed_demo_command

    summary = asyncio.run(seed_demo_command(settings))
    print(summary)


def _cmd_create_user(settings: Settings, args: argparse.Namespace) -> None:
    from server.demo import create_user_command

    password = args.password or getpass.getpass("password: ")
    line = asyncio.run(
        create_user_command(settings, args.login, args.name or args.login, password, args.role)
    )
    print(line)


def _cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    from server.companions import Companions
    from server.run import serve

    host, port = args.host or settings.host, args.port or settings.port
    # Links and pages name the address served on, unless PUBLIC_URL says otherwise.
    settings = dataclasses.replace(settings, host=host, port=port)
    demo = Companions(settings, f"http://{_loopback(host)}:{port}") if args.demo else None
    if demo is not None:
        demo.start()
    try:
        serve(settings, host=host, port=port)
    finally:
        if demo is not None:
            demo.stop()


def _loopback(host: str) -> str:
    """Where a program on this machine reaches a server listening on ``host``."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


SIM_COMMANDS = {
    "providers": "clients.provider_app_sim.providers",
    "city": "clients.city_scenario",
}
"""``acionar sim <name>``: the simulator module each runs."""


def _cmd_sim(settings: Settings, args: argparse.Namespace) -> None:
    # The simulator is a client of the public protocol and API, kept out of the
    # server's imports (tests/test_imports.py): it runs as its own program, in this
    # process's place, so that Ctrl-C reaches it directly.
    argv = [sys.executable, "-m", SIM_COMMANDS[args.what], *args.sim_args]
    sys.stdout.flush()
    os.execv(sys.executable, argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acionar", description="Acionar operations platform")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP and websocket server")
    serve.add_argument("--host", help="listen address (default: HOST)")
    serve.add_argument("--port", type=int, help="listen port (default: PORT)")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="also run the demo's simulated providers and calls (DEMO_SIMULATOR, DEMO_CALLS)",
    )
    serve.set_defaults(func=_cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(func=_cmd_migrate)

    seed = sub.add_parser("seed-demo", help="load the demo assistance (idempotent)")
    seed.set_defaults(func=_cmd_seed_demo)

    user = sub.add_parser("create-user", help="create or update an operator user")
    user.add_argument("login")
    user.add_argument("--name")
    user.add_argument("--role", default="Administrador", help="role name (default Administrador)")
    user.add_argument("--password", help="password (asked for when omitted)")
    user.set_defaults(func=_cmd_create_user)

    services = sub.add_parser("services", help="local PostgreSQL and Redis instances")
    services.add_argument("action", choices=["up", "down", "status"])
    services.set_defaults(func=_cmd_services)

    sim = sub.add_parser(
        "sim",
        help="simulators for demos and measurements",
        description=(
            "acionar sim providers --help: the options of the provider fleet; "
            "acionar sim city --help: the city scenario's"
        ),
    )
    sim.add_argument(
        "what",
        choices=sorted(SIM_COMMANDS),
        help="providers: a fleet of apps; city: calls over a day, outcomes measured",
    )
    sim.add_argument("sim_args", nargs=argparse.REMAINDER, help="the simulator's options")
    sim.set_defaults(func=_cmd_sim)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        args.func(settings, args)
    except (AcionarServerError, RegistryError) as exc:
        print(f"acionar: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
