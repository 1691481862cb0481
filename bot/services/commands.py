"""The command service: one reader or admin command in, one `Reply` out.

`Answers` reads the store and calls the pure renderers in bot.render.replies; it knows no
PTB, so benchmarks and tests call it directly. /retry is its one write, re-queuing failed
posts. The PTB handlers that feed it live in bot/telegram/commands.py.

`/cite study [style] [ref]` (and the post's "Cite the study" deep link, `/start study_<id>`)
cites the study behind a release: `StoredRelease.study`, the first of its identifiers whose
study was found. Without a ref it is the newest release in the chat's feeds that has one
(among the newest STUDY_SCAN: a chat whose recent releases name no study is told so). A
release whose study is not known yet gets the truth about its identifiers' look-ups.

Which feeds a chat may ask about, its channels' citation style and each feed's publisher
come from the routing view (bot/services/routing.py); a chat's resolved id and whether it
is paused are store state, read per command.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.models import RoutingView, StoredRelease, Study
from bot.render import command_args, replies
from bot.render.command_args import Command, CommandArgumentError
from bot.render.replies import FeedHealth, FeedLine, Reply, StudyMiss
from bot.render.retry import (
    admins_only_reply,
    failed_list_reply,
    parse_retry,
    requeued_reply,
)
from bot.services.retry import failed_posts
from bot.services.routing import build_view
from bot.store import Store

# `/cite study` without a ref looks for a study among this many of the chat's newest releases.
STUDY_SCAN = 50


def _same_doi(study: Study, doi: str) -> bool:
    return study.doi.lower() == doi.lower()


@dataclass(frozen=True, slots=True)
class ChatRef:
    """Where a command came from."""

    id: int
    type: str  # private, group, supergroup, channel
    username: str  # "" when the chat has none
    user_id: int | None  # None for channel posts

    @property
    def private(self) -> bool:
        return self.type == "private"


@dataclass(frozen=True, slots=True)
class Scope:
    """What a chat may ask about: every feed in a private chat, else the feeds routed there."""

    feeds: tuple[str, ...]
    channels: tuple[str, ...]  # the configured channels this chat is
    here: bool  # a group or channel, limited to its routes


class Answers:
    """One command in, one `Reply` out: store reads plus the pure renderers."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime],
        bot_username: str,
        wake: Callable[[], None] | None = None,
        view: RoutingView | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.bot_username = bot_username
        self.wake = wake  # starts the dispatcher's workers after /retry re-queued posts
        self.reroute(settings, view if view is not None else build_view(store, settings))

    def reroute(self, settings: Settings, view: RoutingView) -> None:
        """Answer from `view` from the next command on (a reload, an admin's change)."""
        self.settings = settings
        self.view = view
        self.sources = {
            feed.name: feed.publisher.short_name or feed.publisher.name or feed.name
            for feed in view.feeds
        }

    @staticmethod
    def ignores(command: Command, chat: ChatRef) -> bool:
        """Whether the bot stays quiet: in a group, a bare unknown command (or /retry) may
        be for another bot. Asked before a reply is queued, so it never says "slow down"."""
        known = command.name in command_args.COMMANDS
        return not (chat.private or command.addressed) and (command.name == "retry" or not known)

    def answer(self, command: Command, chat: ChatRef) -> Reply | None:
        """The reply to `command`; None when the bot should stay quiet."""
        if command.name == "retry":
            try:
                command_args.check_length(command.args)
                return self.retry(command, chat)
            except CommandArgumentError as exc:
                return replies.argument_problem_reply(exc)
        if command.name not in command_args.COMMANDS:
            # In a group a bare /other may be for another bot; answer only when asked.
            if chat.private or command.addressed:
                return replies.unknown_command_reply(command.name)
            return None
        try:
            command_args.check_length(command.args)
            return self._dispatch(command, chat)
        except CommandArgumentError as exc:
            return replies.argument_problem_reply(exc)

    def _dispatch(self, command: Command, chat: ChatRef) -> Reply:
        scope = self.scope(chat)
        if command.name == "help":
            return replies.help_reply(self.bot_username, scope.feeds)
        if command.name == "start":
            return self.start(command.args, scope)
        if command.name == "feeds":
            return self.feeds(chat, scope)
        if not scope.feeds:
            return replies.no_feeds_reply(self.bot_username)
        if command.name == "latest":
            return self.latest(command.args, scope)
        if command.name == "cite":
            return self.cite(command.args, scope)
        return self.search(command.args, scope)

    def scope(self, chat: ChatRef) -> Scope:
        every_feed = self.view.feed_names
        if chat.private:
            return Scope(every_feed, (), here=False)
        username = f"@{chat.username}".lower() if chat.username else None
        resolved = {state.name: state.chat_id for state in self.store.channel_states()}
        channels = tuple(
            sorted(
                known.name
                for known in self.view.chats
                if resolved.get(known.name) == chat.id or known.chat.lower() == username
            )
        )
        routed = {feed for name in channels for feed in self.view.feeds_of(name)}
        return Scope(tuple(f for f in every_feed if f in routed), channels, here=True)

    def start(self, args: str, scope: Scope) -> Reply:
        study_of = command_args.start_payload_study(args)
        release_id = command_args.start_payload_release(args) if study_of is None else study_of
        if release_id is None:
            lines = [FeedLine(name, self._title(name), ()) for name in scope.feeds]
            return replies.welcome_reply(lines, self.bot_username, here=scope.here)
        found = self._by_id(release_id, scope)
        if found is None:
            return replies.not_found_reply(f"#{release_id}")
        if study_of is not None:
            return self.study_citation(found, self.default_style(scope))
        return self.citation(found, self.default_style(scope))

    def latest(self, args: str, scope: Scope) -> Reply:
        request = command_args.parse_latest(args, scope.feeds)
        feeds = (request.feed,) if request.feed else scope.feeds
        found = self.store.latest(request.count, feeds)
        return replies.latest_reply(found, request, self.sources)

    def cite(self, args: str, scope: Scope) -> Reply:
        request = command_args.parse_cite(args)
        reference = command_args.parse_reference(request.ref)
        style = request.style or self.default_style(scope)
        if request.study and reference.newest:
            return self._newest_study(scope, style)
        found = self._find(reference, scope)
        if found is None:
            return (
                replies.no_releases_reply()
                if reference.newest
                else replies.not_found_reply(reference.text)
            )
        if request.study:
            return self.study_citation(found, style)
        return self.citation(found, style)

    def search(self, args: str, scope: Scope) -> Reply:
        words = command_args.parse_search(args)
        doi = command_args.search_doi(words)
        if doi is not None:
            named = self.store.releases_with_doi(doi, replies.MAX_SEARCH, scope.feeds)
            # Shown as registered (a reader may type it in any case): the first study's DOI.
            shown = next((r.study.doi for r in named if r.study and _same_doi(r.study, doi)), doi)
            return replies.doi_search_reply(shown, named, self.sources)
        found = self.store.search(words, replies.MAX_SEARCH, scope.feeds)
        return replies.search_reply(words, found, self.sources)

    def feeds(self, chat: ChatRef, scope: Scope) -> Reply:
        lines = [FeedLine(name, self._title(name), self._chats_of(name)) for name in scope.feeds]
        admin = chat.private and chat.user_id in self.settings.bot.admins
        return replies.feeds_reply(lines, self._health() if admin else None, here=scope.here)

    def retry(self, command: Command, chat: ChatRef) -> Reply | None:
        """/retry [list | channel]: admins only, in a private chat; re-queue or list failed."""
        if not chat.private:  # in a group a bare /retry may be for another bot
            return admins_only_reply() if command.addressed else None
        if chat.user_id not in self.settings.bot.admins:
            return admins_only_reply()
        request = parse_retry(command.args, list(self.view.chat_names))
        if request.listing:
            return failed_list_reply(failed_posts(self.store))
        counts = self.store.requeue_failed(request.channel)
        if counts and self.wake is not None:
            self.wake()
        return requeued_reply(counts)

    def using(self, store: Store) -> Answers:
        """The same answers, read from `store` (a worker thread's read-only connection)."""
        twin = copy.copy(self)
        twin.store = store
        return twin

    def restyle(self, data: str, chat: ChatRef) -> tuple[Reply | None, str]:
        """A style button was pressed: the message's new content, and the notice to show.
        A study's buttons (`cite:study:…`) restyle the study, a release's the release."""
        study = command_args.parse_study_callback(data)
        parsed = study or command_args.parse_cite_callback(data)
        if parsed is None:
            return None, ""
        release_id, style = parsed
        found = self._by_id(release_id, self.scope(chat))
        if found is None:
            return None, "That release is no longer available here."
        if study is None:
            return self.citation(found, style), replies.callback_answer(style)
        if found.study is None:  # cited before; gone since (a pruned cache): say why
            return self.study_citation(found, style), "The study is not available now."
        return self.study_citation(found, style), replies.callback_answer(style)

    def citation(self, found: StoredRelease, style: str) -> Reply:
        return replies.citation_reply(
            found, self.view.publisher(found.release.feed), style, accessed=self.clock().date()
        )

    def study_citation(self, found: StoredRelease, style: str) -> Reply:
        """The study behind `found` in `style`; when it is not known, why not."""
        if found.study is not None:
            return replies.study_citation_reply(found.id, found.study, style)
        misses = [
            StudyMiss(lookup.ref, lookup.state, lookup.retry_at, lookup.error)
            for lookup in self.store.release_study_refs(found.id)
            if lookup.state != "found"
        ]
        return replies.study_missing_reply(
            found.id, misses, enabled=self.settings.study.enabled, now=self.clock()
        )

    def _newest_study(self, scope: Scope, style: str) -> Reply:
        """`/cite study` alone: the newest release here whose study is known."""
        newest = self.store.latest(STUDY_SCAN, scope.feeds)
        with_study = next((item for item in newest if item.study is not None), None)
        if with_study is not None:
            return self.study_citation(with_study, style)
        if not newest:
            return replies.no_releases_reply()
        return replies.no_recent_study_reply(len(newest), newest[0].id)

    def default_style(self, scope: Scope) -> str:
        """The style of the chat's channel, else the configured default; never "none"."""
        styles = [c.options.citation_style for c in self.view.chats if c.name in scope.channels]
        for style in [*styles, self.settings.defaults.citation_style]:
            if style != "none":
                return style
        return "apa"

    def _find(self, reference: command_args.Reference, scope: Scope) -> StoredRelease | None:
        if reference.newest:
            newest = self.store.latest(1, scope.feeds)
            return newest[0] if newest else None
        if reference.release_id is not None:
            return self._by_id(reference.release_id, scope)
        doi = command_args.search_doi(reference.text)
        if doi is not None:  # `/cite study doi:10.1523/…`: the newest release naming it
            named = self.store.releases_with_doi(doi, 1, scope.feeds)
            if named:
                return named[0]
            if not reference.text.lower().startswith(("https://", "http://")):
                return None  # a text search for "doi:10.1/x" would cite some other release
        return self.store.find_release(reference.text, scope.feeds)

    def _by_id(self, release_id: int, scope: Scope) -> StoredRelease | None:
        found = self.store.release(release_id)
        return found if found is not None and found.release.feed in scope.feeds else None

    def _title(self, feed_name: str) -> str:
        publisher = self.view.publisher(feed_name)
        return publisher.name or publisher.short_name

    def _chats_of(self, feed_name: str) -> tuple[str, ...]:
        return tuple(
            f"{c.name} ({c.username})" if c.username else c.name
            for c in self.view.chats_of(feed_name)
        )

    def _health(self) -> dict[str, FeedHealth]:
        paused = [state for state in self.store.channel_states() if state.paused]
        routed = {state.name: set(self.view.feeds_of(state.name)) for state in paused}
        return {
            state.name: FeedHealth(
                last_success=state.last_success,
                last_error=state.last_error,
                failures=state.failures,
                permanent=state.error_permanent,
                paused=tuple(
                    f"{c.name}: {c.pause_error or 'paused'}"
                    for c in paused
                    if state.name in routed[c.name]
                ),
            )
            for state in self.store.feed_states()
        }
