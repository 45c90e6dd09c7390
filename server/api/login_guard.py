"""Sign-in throttling that never locks the owner out (docs/security.md, "Sign-in").

Failed sign-ins are counted in Redis (so the limits hold across nodes), each counter
over ``LOGIN_WINDOW_S`` from its first failure:

* per login **and** address: ``LOGIN_MAX_FAILURES`` failures answer 429 to that pair
  only. Someone guessing ``admin``'s password from ten addresses blocks those ten
  addresses for ``admin``, never the owner's own;
* per address, whatever the login: ``LOGIN_MAX_FAILURES_PER_ADDRESS`` failures answer
  429 to that address (one address spraying many logins);
* per login, every address together: beyond ``LOGIN_SLOW_AFTER`` failures, a sign-in
  for that login from an address where it has not signed in successfully within
  ``LOGIN_KNOWN_DAYS`` waits ``LOGIN_SLOW_DELAY_S`` before its password is checked.
  A guesser spread over many addresses is slowed down; the owner at their usual
  address is not slowed at all and, from a new one, only waits: a delay, no captcha,
  no lockout.

Every 429 and every slowed attempt is logged (logger ``acionar.auth``) with the login
and the address.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from server.api import ratelimit
from server.api.errors import ApiError
from server.settings import Settings

log = logging.getLogger("acionar.auth")

KNOWN_ADDRESSES = 20  # addresses remembered per login (the most recent successes)


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """The limits of :mod:`server.api.login_guard`, from the settings."""

    per_pair: ratelimit.Window
    per_address: ratelimit.Window
    slow_after: int
    slow_delay_s: float
    known_s: int

    @classmethod
    def of(cls, settings: Settings) -> LoginPolicy:
        window = settings.login_window_s
        return cls(
            ratelimit.Window(settings.login_max_failures, window),
            ratelimit.Window(settings.login_max_failures_per_address, window),
            settings.login_slow_after,
            settings.login_slow_delay_s,
            int(settings.login_known_days * 86_400),
        )


class LoginGuard:
    """The throttle of one sign-in attempt: :meth:`admit` before checking the
    password, then :meth:`failed` or :meth:`succeeded`."""

    def __init__(
        self, redis: aioredis.Redis, prefix: str, policy: LoginPolicy, login: str, address: str
    ) -> None:
        self.redis = redis
        self.policy = policy
        self.login = login.strip().lower()
        self.address = address
        base = f"{prefix}login:"
        self.pair_key = f"{base}pair:{self.login}:{address}"
        self.address_key = f"{base}ip:{address}"
        self.login_key = f"{base}user:{self.login}"
        self.known_key = f"{base}known:{self.login}"

    async def admit(self) -> None:
        """Wait or refuse as the policy says.

        Raises:
            ApiError: 429 ``too_many_attempts`` with ``Retry-After``.
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.pair_key)
            pipe.get(self.address_key)
            pipe.get(self.login_key)
            pipe.zscore(self.known_key, self.address)
            pair, by_address, by_login, known_at = await pipe.execute()
        policy = self.policy
        await self._refuse_beyond(pair, self.pair_key, policy.per_pair, "login and address")
        await self._refuse_beyond(by_address, self.address_key, policy.per_address, "address")
        known = known_at is not None and float(known_at) >= time.time() - policy.known_s
        if int(by_login or 0) >= policy.slow_after and not known:
            log.warning(
                "sign-in for %r from %s slowed by %.1f s: %s failures for this login",
                self.login,
                self.address,
                policy.slow_delay_s,
                int(by_login),
            )
            await asyncio.sleep(policy.slow_delay_s)

    async def _refuse_beyond(
        self, count: bytes | None, key: str, window: ratelimit.Window, what: str
    ) -> None:
        if count is None or int(count) < window.limit:
            return
        wait = await ratelimit.blocked_for(self.redis, key, window)
        if not wait:
            return
        log.warning(
            "sign-in for %r from %s refused for %d s: too many failures for this %s",
            self.login,
            self.address,
            wait,
            what,
        )
        raise ApiError(
            429,
            "too_many_attempts",
            f"Muitas tentativas de login. Tente de novo em {wait} s.",
            headers={"Retry-After": str(wait)},
        )

    async def failed(self) -> None:
        """Count a wrong login or password."""
        window = self.policy.per_pair.seconds
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (self.pair_key, self.address_key, self.login_key):
                pipe.incr(key)
                pipe.expire(key, window, nx=True)
            await pipe.execute()

    async def succeeded(self) -> None:
        """Forget this pair's failures; remember the address as the login's own."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.pair_key)
            pipe.zadd(self.known_key, {self.address: time.time()})
            pipe.zremrangebyrank(self.known_key, 0, -KNOWN_ADDRESSES - 1)
            pipe.expire(self.known_key, self.policy.known_s)
            await pipe.execute()
