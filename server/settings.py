"""All of Acionar's settings, in one place.

Every setting is read from an environment variable of the same name in upper case
(``database_url`` from ``DATABASE_URL``). A ``.env`` file in the working directory is
read too; real environment variables win over it. Every bound the platform has
(pools, timeouts, batch sizes) is a setting here with a finite default, documented
beside it; ``.env.example`` lists them all and a test keeps the two in step.

``DATABASE_URL`` and ``REDIS_URL`` are special: when they are not set, Acionar uses
project-local PostgreSQL and Redis instances under ``LOCAL_SERVICES_DIR`` on the
loopback ports ``LOCAL_PG_PORT`` and ``LOCAL_REDIS_PORT``, which ``acionar services
up`` starts (``make run`` and ``make test`` call it).
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_SLA_MINUTES = 7 * 24 * 60  # operations.sla.MAX_SLA_MINUTES (a test keeps them equal)


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


def _s(default: Any, doc: str) -> Any:
    """A setting's default and its one-line documentation."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True, slots=True)
class Settings:
    """Acionar's settings. Build with :func:`load_settings` or :meth:`from_env`."""

    database_url: str = _s(
        "",
        "PostgreSQL URL (postgresql+asyncpg://user:pass@host:port/db). Empty: the local "
        "instance under LOCAL_SERVICES_DIR.",
    )
    redis_url: str = _s("", "Redis URL (redis://host:port/db). Empty: the local instance.")
    redis_prefix: str = _s("acionar:", "Prefix of every Redis key and channel Acionar uses.")
    host: str = _s("127.0.0.1", "Address the HTTP server listens on.")
    port: int = _s(8000, "Port the HTTP server listens on.")
    log_format: LogFormat = _s(  # noqa: RUF009 - an immutable enum member
        LogFormat.TEXT, "text (human-readable) or json (JSON lines)."
    )
    log_level: str = _s("INFO", "Logging level: DEBUG, INFO, WARNING, ERROR.")
    db_pool_size: int = _s(10, "PostgreSQL connections kept open per server process.")
    db_max_overflow: int = _s(10, "Extra PostgreSQL connections allowed under load.")
    db_pool_timeout_s: float = _s(5.0, "Seconds to wait for a free PostgreSQL connection.")
    db_connect_timeout_s: float = _s(3.0, "Seconds to wait when opening a PostgreSQL connection.")
    redis_max_connections: int = _s(200, "Redis connections per server process.")
    redis_timeout_s: float = _s(2.0, "Seconds to wait for a Redis connection or reply.")
    ready_timeout_s: float = _s(2.0, "Seconds each /readyz check may take before it fails.")
    shutdown_timeout_s: float = _s(10.0, "Seconds open connections get to finish on shutdown.")
    request_id_max_len: int = _s(64, "Longest X-Request-ID accepted from a client.")
    metrics_token: str = _s(
        "", "Bearer token that may read /metrics; empty: only clients on this machine may."
    )
    http_header_timeout_s: float = _s(
        10.0, "A request's head must arrive within this long of the connection or last answer."
    )
    http_body_timeout_s: float = _s(
        30.0, "A declared request body that stops arriving this long is answered 408."
    )
    http_body_total_s: float = _s(
        120.0,
        "A request body must arrive whole within this long of its head, however steadily "
        "it trickles (else 408).",
    )
    http_upload_total_s: float = _s(
        1800.0,
        "The same for a body declared larger than API_MAX_BODY_BYTES (a CSV import, a file).",
    )
    http_keep_alive_s: int = _s(5, "Whole seconds an idle keep-alive connection stays open.")
    http_max_connections_per_address: int = _s(
        256, "Open connections (websockets too) per client address; TRUSTED_PROXIES are spared."
    )
    trusted_proxies: str = _s(
        "",
        "Proxy addresses or networks (comma-separated) whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed. Empty: none; the peer is the client.",
    )
    local_services_dir: str = _s(
        ".var", "Where local PostgreSQL and Redis keep data (relative to the project)."
    )
    local_pg_port: int = _s(55432, "Loopback port of the local PostgreSQL instance.")
    local_redis_port: int = _s(56379, "Loopback port of the local Redis instance.")
    api_max_body_bytes: int = _s(1_048_576, "Largest JSON request body accepted by the API.")
    session_ttl_hours: float = _s(12.0, "Longest a web session lasts, active or not.")
    session_idle_minutes: float = _s(120.0, "A web session unused this long expires.")
    login_max_failures: int = _s(10, "Failed logins allowed per login from one address...")
    login_window_s: int = _s(300, "...in this many seconds, before login answers 429.")
    login_max_failures_per_address: int = _s(
        50, "Failed logins allowed per address, whatever the login, in the same window."
    )
    login_slow_after: int = _s(
        20, "Failed logins of one login (all addresses) after which unknown addresses wait."
    )
    login_slow_delay_s: float = _s(
        2.0, "How long such a sign-in waits before its password is checked."
    )
    login_known_days: float = _s(
        30.0, "An address where a login signed in this recently is never slowed down."
    )
    api_token_max_days: int = _s(365, "Longest validity of an API token.")
    files_dir: str = _s(".var/files", "Where attached files are stored (by content hash).")
    files_max_bytes: int = _s(10_485_760, "Largest attached file accepted.")
    import_max_bytes: int = _s(134_217_728, "Largest CSV import accepted.")
    import_max_rows: int = _s(200_000, "Most data rows in one CSV import.")
    import_batch_size: int = _s(1_000, "CSV import rows validated and written together.")
    ws_auth_deadline_s: float = _s(5.0, "Seconds a provider socket has to authenticate.")
    ws_idle_timeout_s: float = _s(120.0, "A provider socket silent this long is closed.")
    ws_max_frame_bytes: int = _s(65_536, "Largest websocket frame; larger ones close with 1009.")
    ws_max_batch_fixes: int = _s(250, "Most positions in one batched pos frame.")
    ws_ping_interval_s: float = _s(20.0, "Seconds between websocket pings.")
    ws_ping_timeout_s: float = _s(20.0, "Seconds to wait for a pong before closing.")
    ws_rate_limit_per_s: float = _s(5.0, "Frames per second a provider socket may send...")
    ws_rate_limit_burst: int = _s(30, "...with bursts up to this many frames.")
    ws_flood_close_after: int = _s(20, "Rate-limited frames in a row before closing (4008).")
    position_interval_s: float = _s(5.0, "How often provider apps are asked to send positions.")
    position_max_speed_kmh: float = _s(200.0, "Implied speed above which a fix is rejected.")
    position_max_accuracy_m: float = _s(100.0, "Fixes less accurate than this are rejected.")
    position_max_future_s: float = _s(30.0, "How far ahead of server time a fix may be.")
    position_max_age_s: float = _s(86_400.0, "Oldest buffered fix accepted after a reconnect.")
    position_fresh_s: float = _s(120.0, "A live position younger than this beats the base.")
    position_flush_ms: float = _s(20.0, "Accepted positions are written to Redis at least...")
    position_flush_max: int = _s(500, "...this often, or when this many are waiting.")
    position_publish_interval_s: float = _s(
        2.0, "Least time between two panel updates of one provider (0: every write)."
    )
    presence_ttl_s: float = _s(
        60.0, "A provider is online while its socket refreshed presence within this."
    )
    loop_lag_probe_ms: float = _s(50.0, "How often the event loop's lateness is measured.")
    loop_lag_ease_ms: float = _s(
        100.0,
        "Loop lateness above which provider sockets are read less (load shedding; 0: at"
        " every frame, for drills)...",
    )
    loop_lag_pause_ms: float = _s(250.0, "...each pausing about this long after a frame.")
    bus_channel: str = _s("bus", "Redis pub/sub channel (after REDIS_PREFIX) joining the nodes.")
    outbox_poll_s: float = _s(
        1.0, "Each node looks this often for job events no relay published (a node died)."
    )
    outbox_batch: int = _s(500, "Job events published per round trip by the outbox relay.")
    outbox_retention_h: float = _s(
        24.0, "Hours published job events are kept for panels to resynchronise."
    )
    outbox_prune_s: float = _s(300.0, "How often published job events past retention go, s.")
    offer_sweep_s: float = _s(
        1.0, "How often each node expires offers past their time and fails undelivered ones."
    )
    auto_dispatch_poll_s: float = _s(
        0.5, "How often each node takes the automatic dispatch steps that are due."
    )
    sla_dispatch_minutes: int = _s(
        15, "Minutes to dispatch a job, for clients without their own SLA."
    )
    sla_arrival_minutes: int = _s(
        60, "Minutes to arrive on site, for clients without their own SLA."
    )
    incident_ask_client_first: bool = _s(
        True, "The incident screen asks for the client before searching the beneficiary."
    )
    job_max_schedule_days: int = _s(90, "How far ahead a job may be scheduled (agendamento).")
    track_flush_ms: float = _s(
        1000.0, "GPS points of providers on a job are written to PostgreSQL this often."
    )
    track_buffer_max: int = _s(
        50_000, "Track points waiting for PostgreSQL per process; beyond, the oldest go."
    )
    addresses_allow_outside_brazil: bool = _s(
        False, "Accept address coordinates outside Brazil (a coarse polygon with a margin)."
    )
    geocoder: str = _s(
        "offline", "Address search: offline (the addresses Acionar knows) or nominatim."
    )
    geocoder_nominatim_url: str = _s(
        "https://nominatim.openstreetmap.org",
        "Nominatim server used when GEOCODER=nominatim (prefer your own instance).",
    )
    geocoder_user_agent: str = _s(
        "Acionar/0.1 (24-hour assistance operations)",
        "User-Agent sent to Nominatim; add a contact e-mail, as its usage policy asks.",
    )
    geocoder_timeout_s: float = _s(
        5.0, "Seconds a geocoder request may take (and may wait for its turn)."
    )
    geocoder_min_interval_s: float = _s(
        1.0, "Least seconds between two Nominatim requests per process (public: 1)."
    )
    ranking_weight_distance: float = _s(
        0.35, "Candidate ranking: relative weight of closeness (weights are normalised)."
    )
    ranking_weight_on_time_rate: float = _s(0.15, "Candidate ranking: weight of on-time rate.")
    ranking_weight_acceptance_rate: float = _s(
        0.15, "Candidate ranking: weight of acceptance rate."
    )
    ranking_weight_preference: float = _s(
        0.15, "Candidate ranking: weight of the assistance's preference (0..5)."
    )
    ranking_weight_partnership: float = _s(
        0.20, "Candidate ranking: weight of being the client's partner."
    )
    ranking_weight_price: float = _s(0.0, "Candidate ranking: weight of a low job price.")
    ranking_busy_penalty: float = _s(
        0.2, "Candidate ranking: score subtracted from a provider on an active job (0..1)."
    )
    catalogue_reload_s: float = _s(
        600.0, "Candidate search: full reload of the provider catalogue (safety net), s."
    )
    arrival_radius_m: float = _s(
        150.0, "A provider within this many metres of the origin is there (geofence)."
    )
    arrival_dwell_s: float = _s(
        30.0, "...once it stayed inside this long (or its first fix after a signal loss is)."
    )
    scorecard_window_days: int = _s(
        90, "Days of offers and arrivals a provider's scorecard (and ranking rates) counts."
    )
    scorecard_refresh_s: float = _s(
        300.0, "How often the providers' acceptance and on-time rates are recomputed."
    )
    public_url: str = _s(
        "", "Base URL of the links sent to providers and requesters. Empty: http://HOST:PORT."
    )
    link_secret_key: str = _s(
        "",
        "Secret that signs links (32+ bytes, the same on every node). Empty: one made on "
        "first start and kept in the database.",
    )
    link_lifetime_h: float = _s(24.0, "Hours an offer's link works (its offer expires first).")
    tracking_lifetime_h: float = _s(12.0, "Hours a requester's tracking link works at most.")
    panel_positions_ms: float = _s(
        500.0, "The console's map gets providers' positions at most this often (coalesced)."
    )
    map_tile_url: str = _s(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "Map tiles of the console and tracking pages (empty: markers on a plain background).",
    )
    map_tile_attribution: str = _s("© OpenStreetMap", "Attribution shown under the map's tiles.")
    sms_gateway: str = _s("outbox", "SMS: outbox (stored in sent_messages) or http.")
    sms_http_url: str = _s("", "SMS_GATEWAY=http: the provider's send endpoint (JSON POST).")
    sms_http_auth_header: str = _s(
        "", "SMS_GATEWAY=http: one header sent with each request, 'Name: value'."
    )
    sms_http_body: str = _s(
        '{"to": "{to}", "message": "{text}"}',
        "SMS_GATEWAY=http: JSON body template; {to} (E.164), {to_digits}, {text}.",
    )
    sms_http_id_field: str = _s(
        "id", "SMS_GATEWAY=http: dotted path of the message id in the answer."
    )
    sms_report_token: str = _s(
        "",
        "Token the SMS provider's delivery reports carry (X-Acionar-Token). Empty: reports off.",
    )
    email_gateway: str = _s("outbox", "E-mail: outbox (stored in sent_messages) or smtp.")
    smtp_host: str = _s("localhost", "EMAIL_GATEWAY=smtp: server host.")
    smtp_port: int = _s(587, "EMAIL_GATEWAY=smtp: server port.")
    smtp_security: str = _s("starttls", "EMAIL_GATEWAY=smtp: none, starttls or tls.")
    smtp_user: str = _s("", "EMAIL_GATEWAY=smtp: login (empty: none).")
    smtp_password: str = _s("", "EMAIL_GATEWAY=smtp: password.")
    email_from: str = _s("acionar@localhost", "Sender address of Acionar's e-mails.")
    gateway_timeout_s: float = _s(10.0, "Seconds an SMS or e-mail gateway may take per message.")
    demo_providers: int = _s(240, "Providers created by seed-demo.")
    demo_beneficiaries: int = _s(60, "Beneficiaries created by seed-demo.")
    demo_simulator: bool = _s(
        True, "make run: simulated apps of the demo providers answer offers and drive jobs."
    )
    demo_sim_providers: int = _s(200, "make run: how many demo providers the simulator runs.")
    demo_calls: bool = _s(
        True, "make run: a gentle stream of demo calls, dispatched automatically."
    )
    demo_calls_per_min: float = _s(0.5, "make run: demo calls per minute.")

    @property
    def effective_public_url(self) -> str:
        """Where links point: PUBLIC_URL, or this server's address."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        """TRUSTED_PROXIES as networks (an address alone is a network of one).

        Raises:
            ValueError: an entry is neither an IP address nor a network.
        """
        entries = (entry.strip() for entry in self.trusted_proxies.split(","))
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries if entry)

    @property
    def uses_local_postgres(self) -> bool:
        return self.database_url == ""

    @property
    def uses_local_redis(self) -> bool:
        return self.redis_url == ""

    @property
    def effective_database_url(self) -> str:
        """The URL to connect to: DATABASE_URL, or the local instance's."""
        if self.database_url:
            return self.database_url
        return f"postgresql+asyncpg://acionar@127.0.0.1:{self.local_pg_port}/acionar"

    @property
    def effective_redis_url(self) -> str:
        """The URL to connect to: REDIS_URL, or the local instance's."""
        return self.redis_url or f"redis://127.0.0.1:{self.local_redis_port}/0"

    @property
    def services_dir(self) -> Path:
        path = Path(self.local_services_dir)
        return path if path.is_absolute() else PROJECT_ROOT / path

    @property
    def files_path(self) -> Path:
        path = Path(self.files_dir)
        return path if path.is_absolute() else PROJECT_ROOT / path

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Parse settings from a mapping of environment variables.

        Raises:
            SettingsError: listing every variable that could not be parsed.
        """
        values: dict[str, Any] = {}
        problems: list[str] = []
        for spec in dataclasses.fields(cls):
            raw = env.get(spec.name.upper())
            if raw is None:
                continue
            try:
                values[spec.name] = _parse(spec.type, raw.strip())
            except ValueError as exc:
                problems.append(f"{spec.name.upper()}={raw!r}: {exc}")
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems), problems)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Check ranges that a type alone cannot express."""
        problems = [
            f"{name.upper()} must be at least {low}"
            for name, low in (
                ("port", 1),
                ("db_pool_size", 1),
                ("db_max_overflow", 0),
                ("redis_max_connections", 1),
                ("local_pg_port", 1),
                ("local_redis_port", 1),
                ("demo_providers", 0),
                ("demo_beneficiaries", 0),
                ("demo_sim_providers", 1),
                ("demo_calls_per_min", 0),
                ("request_id_max_len", 8),
                ("http_keep_alive_s", 1),
                ("http_max_connections_per_address", 1),
                ("api_max_body_bytes", 1024),
                ("login_max_failures", 1),
                ("login_window_s", 1),
                ("login_max_failures_per_address", 1),
                ("login_slow_after", 1),
                ("login_slow_delay_s", 0),
                ("login_known_days", 0),
                ("api_token_max_days", 1),
                ("files_max_bytes", 1),
                ("import_max_bytes", 1),
                ("import_max_rows", 1),
                ("import_batch_size", 1),
                ("ws_max_frame_bytes", 1024),
                ("ws_max_batch_fixes", 1),
                ("ws_rate_limit_burst", 1),
                ("ws_flood_close_after", 1),
                ("position_publish_interval_s", 0),
                ("loop_lag_ease_ms", 0),
                ("position_flush_max", 1),
                ("sla_dispatch_minutes", 1),
                ("sla_arrival_minutes", 1),
                ("job_max_schedule_days", 1),
                ("track_buffer_max", 1),
                ("outbox_batch", 1),
            )
            if getattr(self, name) < low
        ]
        problems += [
            f"{name.upper()} must be greater than 0"
            for name in (
                "db_pool_timeout_s",
                "db_connect_timeout_s",
                "redis_timeout_s",
                "ready_timeout_s",
                "shutdown_timeout_s",
                "http_header_timeout_s",
                "http_body_timeout_s",
                "http_body_total_s",
                "http_upload_total_s",
                "session_ttl_hours",
                "session_idle_minutes",
                "ws_auth_deadline_s",
                "ws_idle_timeout_s",
                "ws_ping_interval_s",
                "ws_ping_timeout_s",
                "ws_rate_limit_per_s",
                "position_interval_s",
                "position_max_speed_kmh",
                "position_max_accuracy_m",
                "position_max_future_s",
                "position_max_age_s",
                "position_fresh_s",
                "position_flush_ms",
                "presence_ttl_s",
                "loop_lag_probe_ms",
                "loop_lag_pause_ms",
                "track_flush_ms",
                "catalogue_reload_s",
                "geocoder_timeout_s",
                "outbox_poll_s",
                "outbox_retention_h",
                "outbox_prune_s",
                "offer_sweep_s",
                "auto_dispatch_poll_s",
                "link_lifetime_h",
                "tracking_lifetime_h",
                "panel_positions_ms",
                "gateway_timeout_s",
                "arrival_radius_m",
                "scorecard_window_days",
                "scorecard_refresh_s",
                "arrival_dwell_s",
            )
            if getattr(self, name) <= 0
        ]
        problems += [
            f"{name.upper()} must be at most 65535"
            for name in ("port", "local_pg_port", "local_redis_port")
            if getattr(self, name) > 65535
        ]
        if self.database_url and not self.database_url.startswith("postgresql"):
            problems.append("DATABASE_URL must start with postgresql:// or postgresql+asyncpg://")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            problems.append("REDIS_URL must start with redis://, rediss:// or unix://")
        problems += [
            f"{name.upper()} must be at most {MAX_SLA_MINUTES} (a week)"
            for name in ("sla_dispatch_minutes", "sla_arrival_minutes")
            if getattr(self, name) > MAX_SLA_MINUTES
        ]
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            problems.append("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        if self.sms_gateway not in {"outbox", "http"}:
            problems.append("SMS_GATEWAY must be outbox or http")
        if self.sms_gateway == "http" and not self.sms_http_url.startswith(("http://", "https://")):
            problems.append("SMS_HTTP_URL must be an http(s) URL when SMS_GATEWAY=http")
        if self.email_gateway not in {"outbox", "smtp"}:
            problems.append("EMAIL_GATEWAY must be outbox or smtp")
        if self.smtp_security not in {"none", "starttls", "tls"}:
            problems.append("SMTP_SECURITY must be none, starttls or tls")
        if self.link_secret_key and len(self.link_secret_key.encode()) < 32:
            problems.append("LINK_SECRET_KEY must have at least 32 bytes")
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            problems.append("PUBLIC_URL must start with http:// or https://")
        if self.geocoder not in {"offline", "nominatim"}:
            problems.append("GEOCODER must be offline or nominatim")
        if not self.geocoder_nominatim_url.startswith(("http://", "https://")):
            problems.append("GEOCODER_NOMINATIM_URL must start with http:// or https://")
        if self.geocoder_min_interval_s < 0:
            problems.append("GEOCODER_MIN_INTERVAL_S must be at least 0")
        try:
            self.trusted_proxy_networks  # noqa: B018 - parsed to be checked
        except ValueError:
            problems.append("TRUSTED_PROXIES must list IP addresses or networks, comma-separated")
        problems += _ranking_problems(self)
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems), problems)


RANKING_WEIGHTS = (
    "ranking_weight_distance",
    "ranking_weight_on_time_rate",
    "ranking_weight_acceptance_rate",
    "ranking_weight_preference",
    "ranking_weight_partnership",
    "ranking_weight_price",
)
"""The settings of the default ranking weights, in geo.ranking.FACTORS order."""


def _ranking_problems(settings: Settings) -> list[str]:
    problems = [
        f"{name.upper()} must be at least 0"
        for name in RANKING_WEIGHTS
        if getattr(settings, name) < 0
    ]
    if not any(getattr(settings, name) > 0 for name in RANKING_WEIGHTS):
        problems.append("at least one RANKING_WEIGHT_* must be greater than 0")
    if not 0 <= settings.ranking_busy_penalty <= 1:
        problems.append("RANKING_BUSY_PENALTY must be between 0 and 1")
    return problems


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse(kind: Any, raw: str) -> Any:
    """Convert one raw value to the type a field declares (given as a string)."""
    if kind == "str":
        return raw
    if kind == "int":
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise ValueError("expected a whole number")
        return int(raw)
    if kind == "float":
        try:
            number = float(raw)
        except ValueError:
            raise ValueError("expected a number") from None
        if not math.isfinite(number):
            raise ValueError("expected a finite number")
        return number
    if kind == "bool":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ValueError("expected true or false")
    if kind == "LogFormat":
        try:
            return LogFormat(raw.lower())
        except ValueError:
            raise ValueError("expected text or json") from None
    raise TypeError(f"no parser for settings of type {kind}")


def read_dotenv(path: Path) -> dict[str, str]:
    """Read KEY=VALUE lines of a .env file; blank lines and # comments are skipped."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("\"'")
    return values


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the process environment over the project's ``.env`` file."""
    merged = read_dotenv(PROJECT_ROOT / ".env")
    merged.update(os.environ if env is None else env)
    return Settings.from_env(merged)


def documented_settings() -> list[tuple[str, str, str]]:
    """(VARIABLE, default, doc) for every setting, for docs and .env.example."""
    rows = []
    for spec in dataclasses.fields(Settings):
        default = spec.default
        shown = default.value if isinstance(default, enum.Enum) else default
        rows.append((spec.name.upper(), str(shown), str(spec.metadata["doc"])))
    return rows
