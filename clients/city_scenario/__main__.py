"""``python -m clients.city_scenario`` (``acionar sim city``): run the city scenario
against a server whose providers are answering (``acionar sim providers``, or the
demo fleet of ``make run``) and print its outcomes, the configured ranking beside
the nearest provider only.

    python -m clients.city_scenario --url http://127.0.0.1:8000 --client-id 1 \\
        --rate 2 --duration 600 --seed 7
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys

import httpx

from clients.city_scenario.outcomes import side_by_side
from clients.city_scenario.scenario import (
    ScenarioConfig,
    ScenarioError,
    compare,
    no_progress,
    run_once,
    text_progress,
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="acionar sim city", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--login", default=os.environ.get("ACIONAR_LOGIN", "admin"))
    parser.add_argument("--password", default=os.environ.get("ACIONAR_PASSWORD", "demo1234"))
    parser.add_argument(
        "--client-id", type=int, help="default: the first client with beneficiaries"
    )
    parser.add_argument("--rate", type=float, default=2.0, help="calls per minute")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of calls")
    parser.add_argument("--drain", type=float, default=900.0, help="seconds to let jobs end")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--once", action="store_true", help="one run with the configured ranking only"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--service", default="reboque_leve", help="the code of the service the calls ask for"
    )
    return parser.parse_args(argv)


async def main_async(args: argparse.Namespace) -> int:
    config = ScenarioConfig(
        base_url=args.url,
        login=args.login,
        password=args.password,
        client_id=args.client_id,
        rate_per_min=args.rate,
        duration_s=args.duration,
        seed=args.seed,
        drain_s=args.drain,
        service_code=args.service,
    )
    progress = no_progress if args.quiet else text_progress
    try:
        if args.once:
            runs = [("configured ranking", await run_once(config, None, progress))]
        else:
            runs = await compare(config, progress)
    except (ScenarioError, httpx.HTTPError) as exc:
        print(f"acionar sim city: {exc}", file=sys.stderr)
        return 1
    print(side_by_side(runs))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main_async(args))
    return 130


if __name__ == "__main__":
    raise SystemExit(main())
