"""Load the TOML configuration once, validate all of it, and report every problem at once."""

from __future__ import annotations

import difflib
import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from bot.errors import ConfigError
from bot.feeds.names import NAME_PATTERN
from bot.render.cite import STYLES

CITATION_STYLES = STYLES  # the styles the renderer knows

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
# BCP 47-ish: a 2-3 letter language, then subtags (script, region, variant); at most 35
# characters, as RFC 5646 asks tags to be kept.
_LANGUAGE_TAG = re.compile(r"^(?=.{2,35}$)[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
EXAMPLE = "config/releasebot.example.toml"  # in the repository: every key, with its default


def parse_duration(value: Any) -> float:
    """'15m' -> 900.0; bare numbers are seconds. Raises ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30s', '15m', '2h' or '90d'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(f"expected a duration such as '30s', '15m', '2h' or '90d', got {value!r}")
    if seconds <= 0:
        raise ValueError("must be longer than 0 seconds")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class BotSettings(_Strict):
    database: str = "releasebot.db"
    admins: tuple[int, ...] = ()
    api_base_url: str = "https://api.telegram.org/bot"
    username: str = ""
    log_format: Literal["text", "json"] = "text"  # `--log-format` wins
    tick: Duration = 30.0
    recheck_paused: Duration = 600.0
    request_timeout: Duration = 30.0  # wait for Telegram's answer; a lost one is sent once more
    keep_deliveries: Duration = 90 * 86400.0  # old sent/cancelled posts' rows go (retention)

    @field_validator("username")
    @classmethod
    def _strip_at(cls, value: str) -> str:
        return value.removeprefix("@")


class FetchSettings(_Strict):
    timeout: Duration = 30.0
    connect_timeout: Duration = 10.0
    max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    # Most items taken from one document, newest first: a press office lists tens, and a
    # 100,000-item document would otherwise be stored whole on every poll.
    max_items: int = Field(default=1000, gt=0)
    concurrency: int = Field(default=20, gt=0)
    per_host: int = Field(default=4, gt=0)
    allow_private_addresses: bool = False


class Defaults(_Strict):
    interval: Duration = 900.0
    backlog: int = Field(default=1, ge=0)
    citation_style: str = "apa"
    summary_length: int = Field(default=600, ge=0, le=3000)
    link_preview: bool = True
    flood_limit: int = Field(default=10, gt=0)

    @field_validator("citation_style")
    @classmethod
    def _known_style(cls, value: str) -> str:
        return _check_style(value)


def _check_style(value: str) -> str:
    if value != "none" and value not in CITATION_STYLES:
        choices = ", ".join(("none", *CITATION_STYLES))
        raise ValueError(f"unknown citation style {value!r}; use one of: {choices}")
    return value


def _check_name(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError("must be 1-32 characters of a-z, 0-9, '-', '_', starting with a-z or 0-9")
    return value


Name = Annotated[str, AfterValidator(_check_name)]


class FeedSettings(_Strict):
    name: Name
    url: str
    publisher: str = ""
    short_name: str = ""
    timezone: str | None = None
    interval: Duration | None = None
    language: str = ""  # a BCP 47 tag ("es", "pt-BR"): the releases' language, before <language>
    # Also read each release's web page for its study (meta tags, links): many feeds carry
    # only a teaser. The page is fetched after the post is due, never before it.
    fetch_page: bool = False

    @field_validator("url")
    @classmethod
    def _url_or_path(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        if "://" in value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL or a local file path")
        return value

    @field_validator("language")
    @classmethod
    def _language_tag(cls, value: str) -> str:
        value = value.strip()
        if value and not _LANGUAGE_TAG.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a language tag: use one like 'en', 'es', 'pt-BR' (BCP 47)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None

    @property
    def is_local_file(self) -> bool:
        return not self.url.lower().startswith(("http://", "https://"))


class AdminSettings(_Strict):
    """Who may manage the bot from Telegram, and how much (../shared/design/admin.md)."""

    chat_admins: bool = True  # a chat's administrators may manage that chat's routes
    chat_admins_add_feeds: bool = False  # ... and follow feed URLs the bot does not know yet
    max_routes_per_chat: int = Field(default=50, gt=0)
    max_feeds: int = Field(default=2000, gt=0)
    min_interval: Duration = 600.0  # the shortest poll interval of a feed added in a chat
    commands_per_minute: int = Field(default=20, gt=0)  # per admin user


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_LISTEN_HINT = "use host:port, such as '127.0.0.1:9464' or '[::1]:9464'"


def parse_listen(value: str) -> tuple[str, int]:
    """'127.0.0.1:9464' -> ('127.0.0.1', 9464); '[::1]:9464' -> ('::1', 9464); a host name
    ('localhost:9464') is kept as it is. Raises ValueError for anything else."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{value!r} is not an address: {_LISTEN_HINT}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address: {_LISTEN_HINT}") from None
    elif ":" in host:
        raise ValueError(f"an IPv6 address goes in brackets: {_LISTEN_HINT}")
    elif not _HOSTNAME.fullmatch(host):
        raise ValueError(f"{host!r} is not a host name or address: {_LISTEN_HINT}")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{port_text!r} is not a port (1-65535): {_LISTEN_HINT}")
    return host, int(port_text)


class MetricsSettings(_Strict):
    """`/metrics` (Prometheus) and `/healthz` over HTTP while `releasebot run` runs."""

    listen: str | None = None  # host:port; off when unset

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parse_listen(value)
        return value.strip()

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) to listen on, or None when the endpoint is off."""
        return None if self.listen is None else parse_listen(self.listen)


class StudySettings(_Strict):
    """`[study]`: finding the study behind each release (DOI, PubMed) and its metadata.

    Crossref asks API users to name a contact (its "polite pool"); the lookups stay under
    `requests_per_second` across both services, and each answer is kept in the database."""

    enabled: bool = True
    doi_resolver: str = "https://doi.org/"  # content negotiation: CSL-JSON for a DOI
    ncbi_api: str = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"  # NCBI E-utilities
    contact_email: str = ""  # in the User-Agent (Crossref) and NCBI's `email` parameter
    edit_window: Duration = 24 * 3600.0  # a sent post is edited to add its study this long
    requests_per_second: float = Field(default=5.0, gt=0, le=50)
    timeout: Duration = 20.0

    @field_validator("doi_resolver", "ncbi_api")
    @classmethod
    def _http_base(cls, value: str) -> str:
        value = value.strip()
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("contact_email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value


_WEBHOOK_PATH = re.compile(r"^[A-Za-z0-9_\-./~]{1,200}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
TELEGRAM_WEBHOOK_PORTS = ("443", "80", "88", "8443")
# Telegram's rule for secret_token (a description, not a secret):
WEBHOOK_SECRET_RULE = "1-256 characters, each A-Z, a-z, 0-9, _ or -"  # noqa: S105


class WebhookSettings(_Strict):
    """Webhook mode (`[webhook]`): Telegram POSTs updates to `url` + "/" + `path`, which a
    reverse proxy passes to `listen`. Polling when `url` is unset."""

    url: str | None = None  # the public base URL Telegram calls
    listen: str = "127.0.0.1:8443"  # where the bot's own HTTP server listens
    path: str | None = None  # None: derived from the token (bot/telegram/webhook.py)

    @field_validator("url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_webhook_url(value.strip())

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str) -> str:
        parse_listen(value)
        return value.strip()

    @field_validator("path")
    @classmethod
    def _url_path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = value.strip().strip("/")
        if not _WEBHOOK_PATH.fullmatch(path) or ".." in path.split("/"):
            raise ValueError("use letters, digits and _ - . / ~ only, such as 'telegram/hook'")
        return path

    @property
    def address(self) -> tuple[str, int]:
        return parse_listen(self.listen)


def check_webhook_url(url: str) -> str:
    """Telegram calls webhooks over https only; http is allowed to a loopback host alone
    (a self-hosted Bot API server on the same machine, in its --local mode)."""
    match = re.fullmatch(r"(https?)://([^/?#]+)(/[^?#]*)?", url)
    if match is None:
        raise ValueError("must be a URL such as 'https://bot.example.org'")
    scheme, authority = match.group(1), match.group(2)
    host = authority.rsplit("@", 1)[-1]
    host = host[1 : host.index("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
    if scheme == "http" and not _is_loopback(host):
        raise ValueError("Telegram calls webhooks over https only: use an https:// URL")
    port = authority.rsplit("]", 1)[-1].rpartition(":")[2] if ":" in authority else ""
    if scheme == "https" and port and port not in TELEGRAM_WEBHOOK_PORTS:
        ports = ", ".join(TELEGRAM_WEBHOOK_PORTS)
        raise ValueError(f"Telegram calls webhooks on ports {ports} only")
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_secret_problem(secret: str) -> str | None:
    """What is wrong with a webhook secret (Telegram's rule for secret_token), or None.
    Never quotes the secret."""
    if not secret:
        return "is empty"
    if not _SECRET.fullmatch(secret):
        return f"must be {WEBHOOK_SECRET_RULE} (it has {len(secret)} characters)"
    return None


class ChannelSettings(_Strict):
    name: Name
    chat: str | int
    feeds: tuple[str, ...] = ()
    thread: int | None = Field(default=None, gt=0)  # a forum topic's message_thread_id
    citation_style: str | None = None
    summary_length: int | None = Field(default=None, ge=0, le=3000)
    link_preview: bool | None = None
    silent: bool | None = None
    backlog: int | None = Field(default=None, ge=0)

    @field_validator("chat")
    @classmethod
    def _chat_ref(cls, value: str | int) -> str | int:
        if isinstance(value, str):
            text = value.strip()
            if re.fullmatch(r"-?\d+", text):
                return int(text)
            if not re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{3,31}", text):
                raise ValueError("must be @channelusername or a numeric chat id")
            return text
        return value

    @field_validator("citation_style")
    @classmethod
    def _known_style(cls, value: str | None) -> str | None:
        return None if value is None else _check_style(value)


def _check_terms(value: tuple[str, ...]) -> tuple[str, ...]:
    if len(value) > MAX_FILTER_TERMS:
        raise ValueError(f"at most {MAX_FILTER_TERMS} terms")
    for term in value:
        if not term.strip() or len(term) > MAX_TERM_LENGTH:
            raise ValueError(f"each term must be 1-{MAX_TERM_LENGTH} characters")
    return tuple(" ".join(term.split()) for term in value)


Terms = Annotated[tuple[str, ...], AfterValidator(_check_terms)]
MAX_FILTER_TERMS = 20
MAX_TERM_LENGTH = 100


class RouteSettings(_Strict):
    """One feed -> channel route's own settings (`[[routes]]`); the channel's apply where
    one is not set. A route listed here need not be in the channel's `feeds` too."""

    feed: str
    channel: str
    citation_style: str | None = None
    summary_length: int | None = Field(default=None, ge=0, le=3000)
    link_preview: bool | None = None
    silent: bool | None = None
    backlog: int | None = Field(default=None, ge=0)
    include: Terms = ()  # keyword filter: words or phrases, at least one must match
    exclude: Terms = ()  # none of these may match

    @field_validator("citation_style")
    @classmethod
    def _known_style(cls, value: str | None) -> str | None:
        return None if value is None else _check_style(value)


class Settings(_Strict):
    bot: BotSettings = BotSettings()
    fetch: FetchSettings = FetchSettings()
    defaults: Defaults = Defaults()
    admin: AdminSettings = AdminSettings()
    metrics: MetricsSettings = MetricsSettings()
    webhook: WebhookSettings = WebhookSettings()
    study: StudySettings = StudySettings()
    feeds: tuple[FeedSettings, ...] = ()
    channels: tuple[ChannelSettings, ...] = ()
    routes: tuple[RouteSettings, ...] = ()
    base_dir: Path = Field(default=Path("."), exclude=True)

    @property
    def database_path(self) -> Path:
        path = Path(self.bot.database).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def feed_source(self, feed: FeedSettings) -> str:
        """The feed's URL, or its file path resolved against the config file's folder."""
        if not feed.is_local_file:
            return feed.url
        path = Path(feed.url).expanduser()
        return str(path if path.is_absolute() else self.base_dir / path)

    @property
    def channel_names(self) -> set[str]:
        return {channel.name for channel in self.channels}

    def feed(self, name: str) -> FeedSettings:
        for feed in self.feeds:
            if feed.name == name:
                return feed
        raise KeyError(name)

    def channel(self, name: str) -> ChannelSettings:
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(name)

    def interval_for(self, feed: FeedSettings) -> float:
        return feed.interval if feed.interval is not None else self.defaults.interval

    def style_for(self, channel: ChannelSettings) -> str:
        return channel.citation_style or self.defaults.citation_style

    def summary_length_for(self, channel: ChannelSettings) -> int:
        if channel.summary_length is not None:
            return channel.summary_length
        return self.defaults.summary_length

    def link_preview_for(self, channel: ChannelSettings) -> bool:
        if channel.link_preview is not None:
            return channel.link_preview
        return self.defaults.link_preview

    def backlog_for(self, channel: ChannelSettings) -> int:
        return channel.backlog if channel.backlog is not None else self.defaults.backlog

    @property
    def chat_feed_interval(self) -> float:
        """How often a feed made in a chat is polled: the default, but never faster than
        `[admin] min_interval`."""
        return max(self.defaults.interval, self.admin.min_interval)

    def route_pairs(self) -> list[tuple[str, str]]:
        """Every configured (feed, channel) route, each once: a channel's `feeds`, then the
        `[[routes]]` tables not already among them."""
        pairs = [(feed, channel.name) for channel in self.channels for feed in channel.feeds]
        listed = set(pairs)
        pairs += [(r.feed, r.channel) for r in self.routes if (r.feed, r.channel) not in listed]
        return pairs

    def route_settings(self, feed: str, channel: str) -> RouteSettings | None:
        for route in self.routes:
            if route.feed == feed and route.channel == channel:
                return route
        return None


def key_path(*parts: str | int) -> str:
    """('feeds', 0, 'timezone') -> 'feeds[1].timezone': list positions count from 1, as a
    person counts the [[feeds]] tables in the file."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part + 1}]"
        else:
            path += f".{part}" if path else part
    return path


# The table each key path starts in, for suggesting a known key in place of an unknown one.
_SECTIONS: dict[str, type[BaseModel]] = {
    "": Settings,
    "bot": BotSettings,
    "fetch": FetchSettings,
    "defaults": Defaults,
    "feeds": FeedSettings,
    "channels": ChannelSettings,
    "admin": AdminSettings,
    "routes": RouteSettings,
    "metrics": MetricsSettings,
}


def _cross_check(data: dict[str, Any]) -> list[str]:
    """Problems between entries (duplicates, unknown feeds), found on the raw tables."""
    feeds = _table_list(data, "feeds")
    channels = _table_list(data, "channels")
    problems = _duplicates("feeds", [f.get("name") for f in feeds], "name")
    problems += _duplicates("channels", [c.get("name") for c in channels], "name")
    # A forum topic is its own target: one chat may appear once per thread.
    targets = [
        str(c.get("chat")).lower() + (f" thread {c['thread']}" if c.get("thread") else "")
        for c in channels
    ]
    problems += _duplicates("channels", targets, "chat")
    known = {f.get("name") for f in feeds}
    for i, channel in enumerate(channels):
        names = channel.get("feeds")
        if not isinstance(names, list):
            continue
        for j, feed in enumerate(names):
            if isinstance(feed, str) and feed not in known:
                problems.append(f"{key_path('channels', i, 'feeds', j)}: unknown feed {feed!r}")
    return problems + _route_problems(_table_list(data, "routes"), known, channels)


def _route_problems(
    routes: list[dict[str, Any]], feeds: set[Any], channels: list[dict[str, Any]]
) -> list[str]:
    known = {c.get("name") for c in channels}
    problems = []
    seen: set[tuple[Any, Any]] = set()
    for i, route in enumerate(routes):
        feed, channel = route.get("feed"), route.get("channel")
        if isinstance(feed, str) and feed not in feeds:
            problems.append(f"{key_path('routes', i, 'feed')}: unknown feed {feed!r}")
        if isinstance(channel, str) and channel not in known:
            problems.append(f"{key_path('routes', i, 'channel')}: unknown channel {channel!r}")
        if (feed, channel) in seen:
            problems.append(f"{key_path('routes', i)}: duplicate route {feed!r} -> {channel!r}")
        seen.add((feed, channel))
    return problems


def _table_list(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [item if isinstance(item, dict) else {} for item in value]


def _duplicates(section: str, names: list[Any], key: str) -> list[str]:
    seen: set[Any] = set()
    problems = []
    for i, name in enumerate(names):
        if name is None or name == "None":
            continue
        if name in seen:
            problems.append(f"{key_path(section, i, key)}: duplicate {key} {name!r}")
        seen.add(name)
    return problems


# What a list-valued key holds, for a value given as something else (`admins = "2002"`).
_LIST_OF: dict[tuple[str, ...], str] = {
    ("bot", "admins"): "a list of Telegram user ids, such as [123456789]",
    ("channels", "feeds"): 'a list of feed names, such as ["nida"]',
    ("routes", "include"): 'a list of words or phrases, such as ["vaccine", "opioid use"]',
    ("routes", "exclude"): 'a list of words or phrases, such as ["mouse"]',
}


def _format_errors(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        loc = item["loc"]
        path = key_path(*loc) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key" + _did_you_mean(loc)
        elif item["type"] in ("tuple_type", "list_type"):
            names = tuple(part for part in loc if isinstance(part, str))
            message = f"must be {_LIST_OF.get(names, 'a list, in brackets: [...]')}"
        elif item["type"] == "int_parsing" and loc[:2] == ("bot", "admins"):
            message = "must be a numeric Telegram user id, such as 123456789"
        lines.append(f"{path}: {message}")
    return lines


def _did_you_mean(loc: tuple[str | int, ...]) -> str:
    """'; did you mean 'admins'?' for a key close to one its table has, else ''."""
    key, section = loc[-1], next((p for p in loc[:-1] if isinstance(p, str)), "")
    model = _SECTIONS.get(section)
    if not isinstance(key, str) or model is None:
        return ""
    known = {name: name for name in model.model_fields if name != "base_dir"}
    if not section:  # a key above its table (`admins = [...]` before [bot]): name the table
        for table in ("bot", "fetch", "defaults"):
            known.update({name: f"{table}.{name}" for name in _SECTIONS[table].model_fields})
    close = difflib.get_close_matches(key.lower(), list(known), n=1, cutoff=0.6)
    return f"; did you mean {known[close[0]]!r}?" if close else ""


def settings_from_dict(data: dict[str, Any], base_dir: Path) -> Settings:
    """Validate an already-parsed TOML table. Raises ConfigError listing every problem."""
    problems = _cross_check(data)
    try:
        settings = Settings.model_validate({**data, "base_dir": base_dir}, strict=False)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc) + problems) from exc
    if problems:
        raise ConfigError(problems)
    return settings


def load_settings(path: Path) -> Settings:
    """Read and validate the config file at `path`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems = [f"{path}: cannot read the config file ({exc.strerror})"]
        if isinstance(exc, FileNotFoundError):
            problems.append(f"to start from the example: cp {EXAMPLE} {path}")
        raise ConfigError(problems) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: not valid TOML ({exc})"]) from exc
    return settings_from_dict(data, path.resolve().parent)
