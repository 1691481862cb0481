"""The `releasebot` command: parse arguments, load the config once, run one subcommand."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot import __version__
from bot.cli_progress import Progress
from bot.config import FeedSettings, FetchSettings, Settings, load_settings, settings_from_dict
from bot.errors import (
    ConfigError,
    DatabaseInUseError,
    DatabaseUnusableError,
    FeedError,
    FeedFetchError,
    FeedParseError,
    NotFoundError,
    ReleaseBotError,
    TelegramAuthError,
)
from bot.logs import LOG_FORMATS, Redactor, configure_logging, redact_also, use_log_format
from bot.models import NO_PUBLISHER, FetchResult, Publisher, Release, RoutingView
from bot.render.authors import citation_author
from bot.render.cite import STYLE_LABELS, STYLES, render_citation
from bot.render.cite_data import accessed_problem
from bot.render.cite_study import render_study_citation, study_citation_key
from bot.render.command_args import CommandArgumentError, parse_reference
from bot.render.display import iso_day
from bot.render.retry import failed_lines, requeued_summary
from bot.render.status import channel_lines, feed_lines, needs_attention, study_lookups_line
from bot.services.config_sync import apply_config
from bot.services.retry import failed_posts
from bot.services.routing import build_view, publisher_of
from bot.store import Store
from bot.store.base import Verify, refuse_read_only
from bot.store.codec import date_to_text
from bot.store.lock import config_lock, run_lock

if TYPE_CHECKING:
    from bot.fetch.client import Fetcher
    from bot.services.poller import PollOutcome
    from bot.services.study_now import StudyNow
    from bot.telegram.reload import EarlyHangups

# Fetching, parsing and polling (httpx, feedparser, a parse worker) are imported by the
# commands that use them: every `releasebot` process pays its imports at start, and
# status, latest, cite and retry need none of them.

DEFAULT_CONFIG = Path("config/releasebot.toml")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ALL_STYLES = "all"  # `releasebot cite REF --style all`: every style, each under its name


class UsageError(ReleaseBotError):
    """The command line names something the config does not have: exit 2, like argparse."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message + (f" ({hint})" if hint else "")
        super().__init__(self.message)


def _known(settings: Settings) -> str:
    names = ", ".join(feed.name for feed in settings.feeds)
    return f"its feeds: {names}" if names else "it has no feeds"


def utc_now() -> datetime:
    return datetime.now(UTC)


_T = TypeVar("_T")


def _run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """asyncio.run, imported only by the commands that wait on the network (poll, preview,
    check --network, cite --study, opml import): the others start without asyncio and ssl."""
    import asyncio

    return asyncio.run(coroutine)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="releasebot",
        description="Poll press-release feeds and post new releases, with citations, to Telegram.",
    )
    parser.add_argument("--version", action="version", version=f"release-bot {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        help="config file (default: $RELEASEBOT_CONFIG, else config/releasebot.toml)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="log lines as text or as JSON, one object per line"
        " (default: [bot] log_format, else text)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    preview = sub.add_parser("preview", help="fetch or read one feed and print its releases")
    preview.add_argument("source", help="a configured feed name, an http(s) URL or a file path")
    preview.add_argument("--json", action="store_true", help="one JSON object per line")
    preview.add_argument("--limit", type=int, default=None, help="print at most N releases")

    poll = sub.add_parser("poll", help="poll every feed now (or one) and store new releases")
    poll.add_argument("--feed", help="poll only this feed")

    latest = sub.add_parser("latest", help="print the newest stored releases")
    latest.add_argument("-n", type=int, default=10, help="how many (default 10)")
    latest.add_argument("--feed", help="only this feed")

    check = sub.add_parser("check", help="validate the config and the database")
    check.add_argument("--network", action="store_true", help="also fetch and parse each feed")

    sub.add_parser(
        "status", help="each feed's health and each channel's deliveries, from the database"
    )

    run = sub.add_parser("run", help="run the bot: poll feeds on schedule, post new releases")
    run.add_argument("--once", action="store_true", help="poll every feed now, send, exit")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="send nothing: print each post instead and record it as dry_run",
    )

    add_reload_command(sub)
    add_data_safety_commands(sub)
    add_admin_commands(sub)

    retry = sub.add_parser(
        "retry", help="queue failed posts again (a running bot sends them at its next tick)"
    )
    retry.add_argument("--channel", help="only this channel's failed posts")
    retry.add_argument("--delivery", type=int, help="only this delivery (its id from --list)")
    retry.add_argument("--list", action="store_true", help="list failed posts, change nothing")

    cite = sub.add_parser("cite", help="print the citation of a stored release")
    cite.add_argument("ref", nargs="?", help="release id, URL, key, or words to search for")
    cite.add_argument(
        "--style", default=None, choices=(*STYLES, ALL_STYLES), help="citation style, or all"
    )
    cite.add_argument(
        "--study",
        action="store_true",
        help="cite the study behind the release (looked up now when not known yet)",
    )
    cite.add_argument("--accessed", type=date.fromisoformat, help="access date, YYYY-MM-DD")
    cite.add_argument("--list-styles", action="store_true", help="list the styles and exit")
    accept_log_format_after_the_command(sub)
    return parser


def accept_log_format_after_the_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """`releasebot run --once --log-format json` as well; SUPPRESS keeps one given before."""
    for command in sub.choices.values():
        command.add_argument(
            "--log-format", choices=LOG_FORMATS, default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )


def config_path(args: argparse.Namespace) -> Path:
    if args.config is not None:
        return Path(args.config)
    return Path(os.environ.get("RELEASEBOT_CONFIG") or DEFAULT_CONFIG)


def load_config(args: argparse.Namespace, *, optional: bool = False) -> Settings:
    """The validated config; `optional` commands fall back to defaults when no file exists."""
    path = config_path(args)
    if optional and args.config is None and not path.exists():
        return settings_from_dict({}, Path.cwd())
    settings = load_settings(path)
    if getattr(args, "log_format", None) is None:  # the command line's choice wins
        use_log_format(settings.bot.log_format)
    return settings


def open_store(settings: Settings, *, write: bool = True, verify: Verify = "quick") -> Store:
    """The store, checked page by page (a damaged one is refused); commands that only read
    (`write=False`) get a read-only database read-only."""
    return Store.open(settings.database_path, write=write, verify=verify)


# preview


def cmd_preview(args: argparse.Namespace) -> int:
    settings = load_config(args, optional=True)
    try:
        feed = settings.feed(args.source)
        source, name, zone = settings.feed_source(feed), feed.name, feed.zone
        language = feed.language
        fetch, publisher = settings.fetch, publisher_of(feed)
    except KeyError:
        # A URL the operator typed is trusted: the private-address guard is for URLs that
        # come from chats and the config, so a feed on localhost can be previewed.
        source, name, zone, publisher = args.source, "preview", None, NO_PUBLISHER
        language = ""
        fetch = settings.fetch.model_copy(update={"allow_private_addresses": True})
    from bot.feeds.parse import dedupe_by_key, newest_first, parse_feed

    fetched = _run(_fetch_once(fetch, source))
    try:
        parsed = parse_feed(
            fetched.body,
            feed_name=name,
            base_url=fetched.url,
            timezone=zone,
            content_type=fetched.content_type,
            language=language,
        )
    except FeedParseError as exc:  # name what was read, keeping the kind of error
        raise type(exc)(f"{source}: {exc.message}") from exc
    releases = newest_first(dedupe_by_key(parsed.releases))[: args.limit]
    for release in releases:
        if args.json:
            print(json.dumps(preview_record(release, publisher), ensure_ascii=False))
        else:
            day = iso_day(release.published or release.updated)  # as `latest` shows it
            print(f"{day:<10}  {release.title}\n            {release.url}")
    if not args.json:
        print(f"{len(releases)} releases from {parsed.title or source}", file=sys.stderr)
    return EXIT_OK


async def _fetch_once(settings: FetchSettings, source: str) -> FetchResult:
    from bot.fetch.client import Fetcher, default_user_agent

    async with Fetcher(settings, user_agent=default_user_agent()) as fetcher:
        return await fetcher.fetch(source)


def preview_record(release: Release, publisher: Publisher) -> dict[str, str | list[str] | None]:
    return {
        "key": release.key,
        "title": release.title,
        "url": release.url,
        "link": release.link,
        "published": date_to_text(release.published),
        "updated": date_to_text(release.updated),
        "author": citation_author(release, publisher),
        "summary": release.summary,
        "feed_title": release.feed_title,
        "truncated": list(release.truncated),  # fields the feed overfilled: cut or dropped
        "language": release.language,  # as stored: declared, corrected by URL and text
        "categories": list(release.categories),  # as route filters match them
    }


# poll


def cmd_poll(args: argparse.Namespace) -> int:
    settings = load_config(args)
    feeds = list(settings.feeds)
    if args.feed:
        feeds = [f for f in feeds if f.name == args.feed]
        if not feeds:
            raise UsageError(f"no feed named {args.feed!r} in the config", _known(settings))
    store = open_store(settings, write=True)
    try:
        with config_lock(settings.database_path, now=utc_now(), what="poll") as busy:
            if busy is None:
                view = apply_config(store, settings, utc_now())
            else:  # a live run keeps the database in step with its own config
                view = build_view(store, settings)
                unknown = [f.name for f in feeds if view.feed(f.name) is None]
                print(f"releasebot: {config_not_applied(busy, unknown)}", file=sys.stderr)
            outcomes = _run(_poll(settings, store, view, feeds))
    finally:
        store.close()
    print_poll_table(outcomes)
    return EXIT_FAILED if any(o.status == "error" for o in outcomes) else EXIT_OK


def config_not_applied(busy: str, unknown: Sequence[str]) -> str:
    """Why the config was not synced, and what of it the database does not know yet."""
    reason = busy.removesuffix("; stop it first")
    note = f"{reason}: the config is applied when that run restarts"
    if unknown:
        note += f"; not in the database yet: {', '.join(unknown)}"
    return note


async def _poll(
    settings: Settings, store: Store, view: RoutingView, feeds: list[FeedSettings]
) -> list[PollOutcome]:
    """Poll `feeds`, those of them the view has (the database knows them by these names)."""
    from bot.fetch.client import Fetcher, default_user_agent
    from bot.services.parse_pool import ParsePool
    from bot.services.poller import Poller

    parser = ParsePool(processes=1)
    known = sum(1 for feed in feeds if view.feed(feed.name) is not None)
    try:
        async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
            poller = Poller(
                settings, store=store, fetcher=fetcher, clock=utc_now, parser=parser, view=view
            )
            with Progress(known, "polled") as shown:
                return await poller.poll_all(feeds, polled=lambda _: shown.advance())
    finally:
        parser.close()


def print_poll_table(outcomes: Sequence[PollOutcome]) -> None:
    width = max([4, *(len(o.feed) for o in outcomes)])
    print(f"{'feed':<{width}}  {'status':<12} {'new':>5} {'updated':>7} {'queued':>6}  error")
    for o in outcomes:
        r = o.result
        new, updated, queued = (r.new, r.updated, r.queued) if r else (0, 0, 0)
        note = o.error or _poll_note(o)
        print(f"{o.feed:<{width}}  {o.status:<12} {new:>5} {updated:>7} {queued:>6}  {note}")


def _poll_note(outcome: PollOutcome) -> str:
    notes = []
    if outcome.result and outcome.result.flooded:
        notes.append(f"flood guard: {outcome.result.flooded} stored without posting")
    if outcome.skipped:
        notes.append(f"{outcome.skipped} older items skipped (fetch.max_items)")
    return "; ".join(notes)


# latest


def cmd_latest(args: argparse.Namespace) -> int:
    settings = load_config(args)
    store = open_store(settings, write=False)
    try:
        found = store.latest(max(1, args.n), [args.feed] if args.feed else None)
    finally:
        store.close()
    if not found:
        raise NotFoundError("no releases stored yet" + (f" for {args.feed!r}" if args.feed else ""))
    for stored in found:
        release = stored.release
        day = iso_day(release.published or release.updated)
        print(f"#{stored.id:<6} {day:<10}  {release.feed:<12} {release.title}")
        print(f"{'':8}{'':10}  {'':12} {release.url or release.link}")
    return EXIT_OK


# check


def cmd_check(args: argparse.Namespace) -> int:
    settings = load_config(args)
    print(f"config ok: {len(settings.feeds)} feeds, {len(settings.channels)} channels")
    if settings.webhook.url is not None:  # `run` would refuse to start without it
        if _webhook_secret() is None:
            return EXIT_USAGE
        print(f"webhook ok: {WEBHOOK_SECRET_VARIABLE} is set and usable")
    try:
        store = open_store(settings, write=False, verify="full")
    except DatabaseUnusableError as exc:
        for problem in exc.problems:
            print(f"database: {problem}")
        raise
    read_only = store.read_only
    store.close()
    print(f"database ok: {settings.database_path}" + (" (read-only)" if read_only else ""))
    failed = False
    if args.network:
        failed = _run(_check_network(settings))
    return EXIT_FAILED if failed else EXIT_OK


async def _check_network(settings: Settings) -> bool:
    """Fetch and parse each feed, then ask Telegram about the token and each channel (when
    TELEGRAM_BOT_TOKEN is set); print one line each; True when any failed.

    A token Telegram rejects raises TelegramAuthError (one line, exit 2, as `run` does),
    after the feeds' lines.
    """
    import asyncio

    from bot.fetch.client import Fetcher, default_user_agent

    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
        with Progress(len(settings.feeds), "checked") as shown:
            feeds = asyncio.gather(
                *(_check_feed(settings, fetcher, f, shown.advance) for f in settings.feeds)
            )
            telegram = asyncio.ensure_future(_check_telegram(settings, token))
            results = await feeds
        for line, _ in results:
            print(line)
        lines = await telegram
    for line, _ in lines:
        print(line)
    return any(failed for _, failed in [*results, *lines])


async def _check_telegram(settings: Settings, token: str) -> list[tuple[str, bool]]:
    if not token:
        return [
            (f"telegram: not checked: set {TOKEN_VARIABLE} to check the token and channels", False)
        ]
    # Imported here: python-telegram-bot costs every other command ~0.1 s of start-up.
    from bot.telegram.check import check_telegram

    return [(line.text, line.failed) for line in await check_telegram(settings, token)]


async def _check_feed(
    settings: Settings, fetcher: Fetcher, feed: FeedSettings, checked: Callable[[], None]
) -> tuple[str, bool]:
    try:
        return await _checked_feed(settings, fetcher, feed)
    finally:
        checked()


async def _checked_feed(
    settings: Settings, fetcher: Fetcher, feed: FeedSettings
) -> tuple[str, bool]:
    from bot.feeds.parse import parse_feed

    try:
        fetched = await fetcher.fetch(settings.feed_source(feed))
        parsed = parse_feed(
            fetched.body,
            feed_name=feed.name,
            base_url=fetched.url,
            timezone=feed.zone,
            content_type=fetched.content_type,
            language=feed.language,
        )
    except FeedError as exc:  # the feed's fault; a bug in ours escapes with its traceback
        return f"feed {feed.name}: FAILED: {exc.message}", True
    return f"feed {feed.name}: ok, {len(parsed.releases)} releases ({parsed.title})", False


# cite


def cmd_cite(args: argparse.Namespace) -> int:
    if args.list_styles:
        for style in STYLES:
            print(f"{style:<20} {STYLE_LABELS[style]}")
        return EXIT_OK
    try:
        reference = parse_reference(args.ref or "")
    except CommandArgumentError as exc:
        raise UsageError(exc.message) from exc
    if args.study and args.accessed is not None:
        raise UsageError("--accessed is for a release's citation: a study's has no access date")
    settings = load_config(args)
    store = open_store(settings, write=False)
    study: StudyNow | None = None
    try:
        found = (
            next(iter(store.latest(1)), None)
            if reference.newest
            else store.find_release(reference.text)
        )
        if found is None:
            if reference.release_id is not None:
                raise NotFoundError(f"no stored release has the id {reference.text.lstrip('#')}")
            raise NotFoundError(f"no stored release matches {args.ref!r}")
        if args.study:
            from bot.services.study_now import study_now  # HTTP: only for --study

            study = _run(study_now(settings.study, store, found.id, utc_now()))
        view = build_view(store, settings)
    finally:
        store.close()
    style = args.style or (
        settings.defaults.citation_style if settings.defaults.citation_style != "none" else "apa"
    )
    styles = STYLES if style == ALL_STYLES else (style,)
    if study is not None:
        return _print_study(found.id, study, styles)
    accessed = args.accessed or utc_now().date()
    problem = accessed_problem(found.release, accessed)
    if problem:
        raise UsageError(f"--accessed {accessed.isoformat()}: {problem}")
    publisher = view.publisher(found.release.feed)
    key = found.cite_key
    _print_each(
        styles,
        lambda one: render_citation(found.release, publisher, one, accessed=accessed, key=key),
    )
    return EXIT_OK


def _print_study(release_id: int, found: StudyNow, styles: Sequence[str]) -> int:
    """The study's citation in each style; no study: why, and exit 1 (as an unknown ref)."""
    if found.study is None:
        if not found.reasons:
            raise NotFoundError(
                f"release #{release_id} names no study (no DOI, PubMed or PubMed Central id)"
            )
        reasons = "; ".join(found.reasons)
        raise NotFoundError(f"the study of release #{release_id} is not known: {reasons}")
    study = found.study
    key = study_citation_key(study)
    _print_each(styles, lambda one: render_study_citation(study, one, key=key))
    return EXIT_OK


def _print_each(styles: Sequence[str], render: Callable[[str], str]) -> None:
    """One citation as it is; several each under a `== style (label) ==` line."""
    if len(styles) == 1:
        print(render(styles[0]))
        return
    for index, style in enumerate(styles):
        if index:
            print()
        print(f"== {style} ({STYLE_LABELS[style]}) ==")
        print(render(style))


# status


def cmd_status(args: argparse.Namespace) -> int:
    settings = load_config(args)
    store = open_store(settings, write=False)
    try:
        if store.read_only:  # show what is stored; the config's changes wait for a writer
            print(
                f"releasebot: {settings.database_path} is read-only: showing it as stored",
                file=sys.stderr,
            )
        else:
            with config_lock(settings.database_path, now=utc_now(), what="status") as busy:
                if busy is None:
                    apply_config(store, settings, utc_now())
                else:
                    print(
                        f"releasebot: {config_not_applied(busy, not_stored(store, settings))}",
                        file=sys.stderr,
                    )
        view = build_view(store, settings)
        feeds = [f for f in store.feed_states() if view.feed(f.name) is not None]
        channels = [c for c in store.channel_states() if view.chat(c.name) is not None]
        counts = store.delivery_counts()
        studies = study_lookups_line(store.study_counts())
    finally:
        store.close()
    print("\n".join(feed_lines(feeds)))
    print()
    print("\n".join(channel_lines(channels, counts)))
    if studies is not None:
        print()
        print(studies)
    return EXIT_FAILED if needs_attention(feeds, channels, counts) else EXIT_OK


def not_stored(store: Store, settings: Settings) -> list[str]:
    """The config's feeds, then channels, that the database does not have under their names."""
    view = build_view(store, settings)
    feeds = [f.name for f in settings.feeds if view.feed(f.name) is None]
    return feeds + [c.name for c in settings.channels if view.chat(c.name) is None]


# retry


def cmd_retry(args: argparse.Namespace) -> int:
    """List failed posts, or make them pending again; exit 1 when none matches."""
    settings = load_config(args)
    if args.channel is not None and args.channel not in settings.channel_names:
        names = ", ".join(sorted(settings.channel_names)) or "none"
        raise UsageError(
            f"no channel named {args.channel!r} in the config", f"its channels: {names}"
        )
    store = open_store(settings, write=not args.list)
    try:
        if args.list:
            posts = failed_posts(store, args.channel, args.delivery)
            if not posts:
                raise NotFoundError("no failed posts")
            print("\n".join(failed_lines(posts)))
            return EXIT_OK
        counts = store.requeue_failed(args.channel, args.delivery)
    finally:
        store.close()
    if not counts:
        raise NotFoundError("no failed posts to retry")
    print(f"{requeued_summary(counts)}; a running bot sends them at its next tick")
    return EXIT_OK


# run


TOKEN_VARIABLE = "TELEGRAM_BOT_TOKEN"  # noqa: S105 -- the variable name, not a token


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_config(args)
    # Every form of run (--once, --dry-run too) marks deliveries: one run per database.
    # A read-only database is named as such before the lock file beside it is created.
    refuse_read_only(settings.database_path)
    from bot.telegram.reload import EarlyHangups

    # From the moment the lock says who we are, `releasebot reload` may signal us.
    early = EarlyHangups.catch()
    with run_lock(settings.database_path, now=utc_now()):
        return _run_locked(args, settings, early)


def _run_locked(args: argparse.Namespace, settings: Settings, early: EarlyHangups) -> int:
    # Imported here: python-telegram-bot costs every other command ~0.1 s of start-up.
    from bot.telegram.run import run

    token = os.environ.get(TOKEN_VARIABLE, "").strip() or None
    if not args.dry_run and token is None:
        print(
            f"releasebot: set {TOKEN_VARIABLE} to the bot's token from @BotFather"
            " (or use --dry-run to print posts without sending)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    secret = None
    if settings.webhook.url is not None and not (args.dry_run or args.once):
        secret = _webhook_secret()
        if secret is None:
            return EXIT_USAGE
    return run(
        settings,
        token=None if args.dry_run else token,
        once=args.once,
        clock=utc_now,
        config=config_path(args),  # what SIGHUP re-reads
        early=early,
        webhook_secret=secret,
    )


WEBHOOK_SECRET_VARIABLE = "TELEGRAM_WEBHOOK_SECRET"  # noqa: S105 -- the variable name


def _webhook_secret() -> str | None:
    """Webhook mode's secret, from the environment only; None (said why) when unusable."""
    from bot.config import WEBHOOK_SECRET_RULE, webhook_secret_problem

    secret = os.environ.get(WEBHOOK_SECRET_VARIABLE, "").strip()
    problem = webhook_secret_problem(secret) if secret else "is not set"
    if problem is None:
        redact_also(secret)
        return secret
    print(
        f"releasebot: [webhook] url is set, so {WEBHOOK_SECRET_VARIABLE} is needed and it"
        f" {problem} ({WEBHOOK_SECRET_RULE}, such as `openssl rand -hex 32`)",
        file=sys.stderr,
    )
    return None


# reload


def _add_config_after_command(parser: argparse.ArgumentParser) -> None:
    """`--config` after the command as well (`releasebot reload --config PATH`); SUPPRESS
    keeps a `--config` given before the command."""
    parser.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="config file")


def add_reload_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reload = sub.add_parser(
        "reload",
        help="make the running bot re-read its config file (checked here first)",
        description="Check the config file, then send SIGHUP to the `releasebot run` using its"
        " database. Exit 0 when signalled, 1 when no run on this host uses it, 2 when the"
        " file has problems (listed; nothing is signalled).",
    )
    _add_config_after_command(reload)


def cmd_reload(args: argparse.Namespace) -> int:
    """Validate the config (its problems: exit 2, as `check`), then signal the run."""
    settings = load_config(args)
    from bot.services.running import signal_run

    pid = signal_run(settings.database_path)
    print(f"sent SIGHUP to releasebot run (pid {pid})")
    return EXIT_OK


# backup, prune


def add_data_safety_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser(
        "backup",
        help="copy the database to PATH, consistently, even while the bot runs",
        description="Copy the database through SQLite's online backup API (a running bot"
        " goes on writing meanwhile), check the copy, then move it into place. Restore:"
        " stop the bot, copy the backup over the database, start it.",
    )
    backup.add_argument("path", type=Path, metavar="PATH", help="where to write the copy")
    backup.add_argument("--force", action="store_true", help="replace PATH if it exists")
    _add_config_after_command(backup)
    prune = sub.add_parser(
        "prune",
        help="remove delivery rows older than [bot] keep_deliveries (the bot does it daily)",
    )
    prune.add_argument("--dry-run", action="store_true", help="count them, remove nothing")
    _add_config_after_command(prune)


def cmd_backup(args: argparse.Namespace) -> int:
    """Back the database up to PATH: one line saying what was written, exit 0."""
    from bot.store.backup import BackupRefusedError, backup_to

    settings = load_config(args)
    try:
        made = backup_to(settings.database_path, args.path, force=args.force)
    except BackupRefusedError as exc:
        raise UsageError(str(exc)) from exc
    print(
        f"backed up {settings.database_path} to {made.path}: {_size(made.size)},"
        f" {made.releases:,} releases, {made.seconds:.2f} s"
    )
    return EXIT_OK


def _size(size: int) -> str:
    """1536 -> '1.5 KiB'."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:.1f} TiB"


def cmd_prune(args: argparse.Namespace) -> int:
    """Remove (or, with --dry-run, count) the delivery rows past the retention."""
    from bot.services.retention import prune, pruned_line

    settings = load_config(args)
    keep = settings.bot.keep_deliveries
    store = open_store(settings, write=not args.dry_run)
    try:
        pruned = prune(store, utc_now(), keep, dry_run=args.dry_run)
    finally:
        store.close()
    print(pruned_line(pruned, keep, dry_run=args.dry_run))
    return EXIT_OK


# opml import/export, config export, audit (issue 12: the admin side's CLI)


def add_admin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    opml = sub.add_parser("opml", help="import or export the feeds as OPML")
    opml_actions = opml.add_subparsers(dest="opml_action", required=True, metavar="ACTION")
    opml_import = opml_actions.add_parser(
        "import",
        help="subscribe a chat to the feeds of an OPML file (each checked as /add)",
        description="Each feed is checked as /add checks it: known feeds are not fetched, new"
        " ones are fetched once. Subscribed with no backlog. Exit 0 when every feed was added"
        " or already there, 1 when some were refused (listed with the reason).",
    )
    opml_import.add_argument("file", type=Path, help="the OPML file")
    opml_import.add_argument(
        "--chat", required=True, help="a channel name, or a chat's @username or numeric id"
    )
    opml_export = opml_actions.add_parser("export", help="print the feeds as an OPML file")
    opml_export.add_argument("--chat", help="only the feeds of this channel")
    config = sub.add_parser("config", help="print the effective configuration")
    config_actions = config.add_subparsers(dest="config_action", required=True, metavar="ACTION")
    config_actions.add_parser(
        "export",
        help="print the config file's and the chat-made feeds, channels and routes as TOML",
    )
    audit = sub.add_parser("audit", help="print the last changes made by admins")
    audit.add_argument("-n", type=int, default=20, help="how many (default 20)")


def _synced_store(settings: Settings, *, write: bool, what: str) -> Store:
    """The store with the config applied when it can be (as `status` does)."""
    store = open_store(settings, write=write)
    if store.read_only:
        return store
    with config_lock(settings.database_path, now=utc_now(), what=what) as busy:
        if busy is None:
            apply_config(store, settings, utc_now())
        else:
            print(f"releasebot: {config_not_applied(busy, [])}", file=sys.stderr)
    return store


def cmd_opml(args: argparse.Namespace) -> int:
    settings = load_config(args)
    if args.opml_action == "export":
        from bot.services.config_export import export_opml

        store = _synced_store(settings, write=False, what="opml export")
        try:
            channel = None
            if args.chat is not None:
                channel = _stored_channel(store, settings, args.chat)
            data = export_opml(store, settings, channel)
        finally:
            store.close()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return EXIT_OK
    return _opml_import(args, settings)


def _stored_channel(store: Store, settings: Settings, chat: str) -> str:
    """The channel name `chat` (a name, "@username" or a chat id) has in the store."""
    from bot.services.admin_add import channel_of
    from bot.services.admin_cli import cli_target

    stored = channel_of(store, cli_target(store, settings, chat))
    if stored is None:
        raise UsageError(f"no channel {chat!r} in the database")
    return stored[0]


def _opml_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.render.admin_add import import_plain
    from bot.services.admin_cli import cli_target, import_file

    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from exc
    store = _synced_store(settings, write=True, what="opml import")
    try:
        refuse_read_only(settings.database_path)
        target = cli_target(store, settings, args.chat)
        shown = _ImportProgress()
        try:
            summary = _run(
                import_file(settings, store, target, data, clock=utc_now, progress=shown)
            )
        finally:
            shown.close()
    finally:
        store.close()
    print(import_plain(summary, limit=1000))
    if summary.added:
        print("a running bot follows them after `releasebot reload`")
    return EXIT_FAILED if summary.refused else EXIT_OK


class _ImportProgress:
    """import_file's (checked, total) calls as a Progress, started once the total is known."""

    def __init__(self) -> None:
        self.shown: Progress | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.shown is None:
            self.shown = Progress(total, "checked")
        self.shown.advance(done - self.shown.done)

    def close(self) -> None:
        if self.shown is not None:
            self.shown.close()


def cmd_config(args: argparse.Namespace) -> int:
    from bot.services.config_export import export_config

    settings = load_config(args)
    store = _synced_store(settings, write=False, what="config export")
    try:
        text = export_config(store, settings)
    finally:
        store.close()
    print(text, end="")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from bot.render.admin_add import audit_lines

    settings = load_config(args)
    if args.n <= 0:
        raise UsageError("-n must be at least 1")
    store = open_store(settings, write=False)
    try:
        entries = store.audit(args.n)
    finally:
        store.close()
    if not entries:
        print("no changes recorded")
        return EXIT_OK
    print("\n".join(audit_lines(entries)))
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "preview": cmd_preview,
    "poll": cmd_poll,
    "latest": cmd_latest,
    "check": cmd_check,
    "cite": cmd_cite,
    "run": cmd_run,
    "status": cmd_status,
    "retry": cmd_retry,
    "reload": cmd_reload,
    "backup": cmd_backup,
    "prune": cmd_prune,
    "opml": cmd_opml,
    "config": cmd_config,
    "audit": cmd_audit,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    redact = Redactor(os.environ.get(TOKEN_VARIABLE, ""))
    configure_logging(args.verbose, redact, args.log_format or "text")
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"releasebot: configuration error in {config_path(args)}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {redact(problem)}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseInUseError as exc:
        print(f"releasebot: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except TelegramAuthError as exc:
        print(f"releasebot: {redact(exc.message)}: check {TOKEN_VARIABLE}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseUnusableError as exc:
        print(f"releasebot: {redact(exc.message)}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"releasebot: {redact(exc.message)}", file=sys.stderr)
        return EXIT_USAGE
    except FeedFetchError as exc:  # name what was fetched: "HTTP 404" alone says little
        where = "" if exc.url in exc.message else f"{exc.url}: "
        print(f"releasebot: {redact(where + exc.message)}", file=sys.stderr)
        return EXIT_FAILED
    except ReleaseBotError as exc:
        message = getattr(exc, "message", None) or str(exc)
        print(f"releasebot: {redact(message)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `releasebot preview … | head`: the reader has gone; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except Exception:
        # A bug: its traceback as Python prints it (and its exit code), without the token.
        print(redact(traceback.format_exc()), end="", file=sys.stderr)
        return EXIT_FAILED
