"""Command line: a fleet of simulated providers that answer offers and drive jobs.

    acionar sim providers --url http://127.0.0.1:8000 --mint --count 50
    python -m clients.provider_app_sim.providers --url ... --tokens tokens.txt

Where the device tokens come from:

* ``--mint``: sign in to the HTTP API (``--login``/``--password``, by default the
  demo's ``admin``/``demo1234``, or ``--api-token``), take the first ``--count``
  active providers whose channels include ``app`` (by id), and issue each a device
  token (``POST /api/v1/providers/{id}/device_tokens``, named ``acionar-sim``);
  ``--save-tokens FILE`` keeps them for the next run (``--tokens FILE``). The
  providers' acceptance and on-time rates seed their profiles.
* ``--tokens FILE``: one device token per line (as ``python -m
  clients.provider_app_sim``).

``--portal LOGIN:PASSWORD`` (repeatable) adds a provider whose user answers on the
web portal (``/ws/portal``, the ``web`` channel), e.g. the demo's
``prestador:demo1234``.

``--phones HOST:PORT`` serves an SMS provider's JSON endpoint (``POST /sms``) on
which the providers' phones receive offers by link: run the server with
``SMS_GATEWAY=http SMS_HTTP_URL=http://HOST:PORT/sms`` and each offer's SMS lands on
a simulated phone whose owner opens the link and answers (the ``link`` channel,
:mod:`.phone`).

Refusal reasons: ``--reasons 1,2,3``, else read from the API when signed in, else
none (providers then let the offers they would refuse expire). Behaviour knobs:
``--seed``, ``--time-scale``, ``--accept-bias``, ``--ignore-bias``,
``--response-scale``, ``--signal-loss-per-h``; the model is docs/simulator.md's.
Ctrl-C or SIGTERM stops the fleet cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from clients.provider_app_sim.__main__ import Printer, _centre, _glue_centre, read_tokens
from clients.provider_app_sim.api import Api, ApiError
from clients.provider_app_sim.config import MAX_TIME_SCALE, Answering, AppConfig
from clients.provider_app_sim.fleet import CONNECT_CONCURRENCY, build_fleet
from clients.provider_app_sim.movement import MovementConfig, Vehicle
from clients.provider_app_sim.phone import SmsNetwork
from clients.provider_app_sim.portal import PortalProvider
from clients.provider_app_sim.processes import raise_open_file_limit
from clients.provider_app_sim.profiles import History, ProfileKnobs

DEMO_LOGIN = "admin"
DEMO_PASSWORD = "demo1234"  # the seeded demo's (acionar seed-demo)

ANSWERING_JITTER = 0.3
"""GPS noise in answering mode, as a fraction of a fix's claimed accuracy."""

ANSWERING_POOR_FIX_P = 0.02
"""Share of fixes with poor accuracy in answering mode."""


def _reasons(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("expected ids such as 1,2,3") from None


def _portal_user(text: str) -> tuple[str, str]:
    login, sep, password = text.partition(":")
    if not sep or not login or not password:
        raise argparse.ArgumentTypeError("expected LOGIN:PASSWORD")
    return login, password


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65_536:
        raise argparse.ArgumentTypeError("expected HOST:PORT")
    return host, int(port)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(
        prog="acionar sim providers", description="simulated providers answering offers"
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--tokens", type=Path, help="device tokens, one per line")
    source.add_argument("--mint", action="store_true", help="issue tokens through the API")
    parser.add_argument("--login", default=DEMO_LOGIN, help="operator login for the API")
    parser.add_argument("--password", default=DEMO_PASSWORD)
    parser.add_argument("--api-token", help="API bearer token instead of a login")
    parser.add_argument("--save-tokens", type=Path, help="with --mint: write the tokens here")
    parser.add_argument("--count", type=int, default=50, help="providers to simulate")
    parser.add_argument(
        "--portal",
        type=_portal_user,
        action="append",
        default=[],
        metavar="LOGIN:PASSWORD",
        help="a provider user answering on the web portal (repeatable)",
    )
    parser.add_argument(
        "--phones",
        type=_host_port,
        metavar="HOST:PORT",
        help="serve POST /sms here: offers by link reach simulated phones",
    )
    parser.add_argument("--reasons", type=_reasons, help="refusal reason ids (default: API)")
    parser.add_argument("--seed", type=int, default=1, help="draws the profiles and vehicles")
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulated s per real s")
    parser.add_argument("--accept-bias", type=float, default=1.0, help="multiplies accept_p")
    parser.add_argument("--ignore-bias", type=float, default=1.0, help="multiplies ignore_p")
    parser.add_argument("--response-scale", type=float, default=1.0, help="x response delays")
    parser.add_argument("--signal-loss-per-h", type=float, default=1.0, help="per provider")
    parser.add_argument("--centre", type=_centre, default=(-23.55, -46.63), help="LAT,LNG")
    parser.add_argument("--radius-km", type=float, default=15.0, help="where they roam")
    parser.add_argument("--interval", type=float, help="seconds between fixes (default: welcome)")
    parser.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C)")
    parser.add_argument("--stats-every", type=float, default=10.0)
    parser.add_argument("--json", action="store_true", help="stats as JSON lines")
    args = parser.parse_args(_glue_centre(list(argv)))
    if args.count < 1:
        parser.error("--count must be at least 1")
    if not 0 < args.time_scale <= MAX_TIME_SCALE:
        parser.error(f"--time-scale must lie in (0, {MAX_TIME_SCALE}]")
    if args.save_tokens and not args.mint:
        parser.error("--save-tokens needs --mint")
    return args


def ws_url(base_url: str) -> str:
    """The provider socket's URL on the server at ``base_url``."""
    scheme, _, rest = base_url.rstrip("/").partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws/provider"


async def _credentials(
    args: argparse.Namespace,
) -> tuple[list[str], tuple[int, ...], dict[int, History]]:
    """(device tokens, refusal reason ids, histories by provider id)."""
    tokens = read_tokens(args.tokens)[: args.count] if args.tokens else []
    reasons: tuple[int, ...] = args.reasons or ()
    histories: dict[int, History] = {}
    if args.tokens and args.reasons is not None:
        return tokens, reasons, histories
    async with Api(
        args.url, login=args.login, password=args.password, api_token=args.api_token
    ) as api:
        if args.reasons is None:
            reasons = await api.refusal_reasons()
        if args.mint:
            providers = (await api.providers())[: args.count]
            tokens = [await api.issue_device_token(p.id) for p in providers]
            histories = {p.id: p.history for p in providers}
            print(f"issued {len(tokens)} device tokens", flush=True)
            if args.save_tokens:
                names = [f"# {p.id} {p.name}" for p in providers]
                lines = [line for pair in zip(names, tokens, strict=True) for line in pair]
                args.save_tokens.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tokens, reasons, histories


async def main_async(args: argparse.Namespace) -> int:
    """Run the fleet the options describe; returns the exit status."""
    try:
        tokens, reasons, histories = await _credentials(args)
    except (ApiError, OSError) as exc:
        print(f"acionar sim: {exc}", file=sys.stderr)
        return 1
    if not tokens:
        print("acionar sim: no device tokens (no provider with the app channel?)", file=sys.stderr)
        return 1
    print(f"{len(tokens)} providers, refusal reasons {list(reasons)}", flush=True)
    movement = MovementConfig(
        centre=args.centre,
        radius_m=args.radius_km * 1000,
        jitter=ANSWERING_JITTER,
        poor_fix_p=ANSWERING_POOR_FIX_P,
    )
    answering = Answering(
        reason_ids=reasons,
        seed=args.seed,
        knobs=ProfileKnobs(args.accept_bias, args.ignore_bias, args.response_scale),
        histories=histories,
    )
    fleet = build_fleet(
        ws_url(args.url),
        tokens,
        movement=movement,
        config=AppConfig(
            interval_s=args.interval,
            time_scale=args.time_scale,
            signal_loss_per_h=args.signal_loss_per_h,
        ),
        answering=answering,
        seed=args.seed,
        connect_concurrency=CONNECT_CONCURRENCY,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    portals = []
    for index, (login, password) in enumerate(args.portal):
        rng = random.Random(f"acionar-sim-portal-user:{args.seed}:{index}")
        portals.append(
            PortalProvider(
                args.url,
                login,
                password,
                vehicle=Vehicle(movement, rng),
                answering=answering,
                rng=rng,
                stats=fleet.stats,
                time_scale=args.time_scale,
            )
        )
    portal_tasks = [asyncio.create_task(portal.run(stop)) for portal in portals]
    if args.phones is not None:
        network = SmsNetwork(
            *args.phones,
            movement=movement,
            answering=answering,
            seed=args.seed,
            stats=fleet.stats,
            time_scale=args.time_scale,
        )
        portal_tasks.append(asyncio.create_task(network.run(stop)))
    try:
        stats = await fleet.run(
            args.duration,
            stop=stop,
            report=Printer(len(tokens), args.json),
            report_every_s=args.stats_every,
        )
    finally:
        stop.set()
        await asyncio.gather(*portal_tasks)
    return 1 if stats.gave_up == len(tokens) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (``acionar sim providers`` runs it in its own process)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    raise_open_file_limit()
    try:
        return asyncio.run(main_async(args))
    except KeyboardInterrupt:  # before the signal handlers were installed
        return 130


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
