"""The project's one exception root and the errors each boundary wraps into it."""

from __future__ import annotations

from typing import ClassVar, Self


class ReleaseBotError(Exception):
    """Root of every error release-bot raises on purpose."""


class ConfigError(ReleaseBotError):
    """The configuration file is missing, unreadable or invalid.

    `problems` holds one human-readable line per problem, each starting with its key path.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class FeedError(ReleaseBotError):
    """A feed's own failure: it could not be fetched, or what came is no usable feed.

    `message` is what a person can act on. `permanent` says that retrying soon will not
    help, someone must act (fix the URL, ask the publisher): such feeds back off harder
    (bot/feeds/backoff.py) and `status` and `/feeds` say so. Each subclass knows its own.
    """

    permanent: bool = False
    message: str


class FeedFetchError(FeedError):
    """A feed could not be fetched; `retry_after` is the server's Retry-After, in seconds."""

    def __init__(self, url: str, message: str, *, retry_after: float | None = None) -> None:
        self.url = url
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"{url}: {message}")

    def for_url(self, url: str) -> Self:
        """The same error about `url` (the address guard knows only the host it refused)."""
        moved = type(self).__new__(type(self))
        moved.__dict__.update(self.__dict__, url=url)
        Exception.__init__(moved, f"{url}: {self.message}")
        return moved


class FeedTimeoutError(FeedFetchError):
    """Connecting or the whole exchange took longer than the configured timeout."""


class FeedUnreachableError(FeedFetchError):
    """Connection refused or dropped, DNS or TLS failure, a corrupt transfer, an unreadable
    file: the network or the server's state, likely to pass."""


class FeedHTTPStatusError(FeedFetchError):
    """The server answered with an error status. 401, 403, 404 and 410 are permanent: the
    feed is gone or closed to us until someone changes the URL or the server; 5xx, 429 and
    any other status may pass on their own."""

    PERMANENT_STATUSES: ClassVar[frozenset[int]] = frozenset({401, 403, 404, 410})
    HINTS: ClassVar[dict[int, str]] = {
        401: "the feed asks for a login; check the URL",
        403: "the server refuses release-bot; check the URL or ask the publisher",
        404: "check the URL",
        410: "the publisher removed it; check the URL",
    }

    def __init__(
        self, url: str, status: int, phrase: str = "", *, retry_after: float | None = None
    ) -> None:
        self.status = status
        self.permanent = status in self.PERMANENT_STATUSES
        text = " ".join(part for part in (f"HTTP {status}", phrase) if part)
        hint = self.HINTS.get(status)
        super().__init__(url, f"{text} — {hint}" if hint else text, retry_after=retry_after)


class FeedTooLargeError(FeedFetchError):
    """The body is over fetch.max_bytes. Permanent: a feed's size does not drop within the
    hour, and every retry downloads the cap again."""

    permanent = True


class AddressRefusedError(FeedFetchError):
    """The host resolves to a non-public address (fetch.allow_private_addresses is off)."""

    permanent = True


class BadFeedURLError(FeedFetchError):
    """The URL cannot lead to a feed: malformed, redirecting to a non-HTTP URL or in a loop,
    a file that does not exist."""

    permanent = True


class UnsupportedEncodingError(FeedFetchError):
    """The server compressed the body in a coding we never asked for and cannot decode."""

    permanent = True


class FeedParseError(FeedError):
    """A fetched body is not a usable feed (HTML page, empty, entity declarations...)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class EmptyFeedError(FeedParseError):
    """The body is empty or blank: usually a server hiccup, so transient."""

    def __init__(self, message: str = "empty body") -> None:
        super().__init__(message)


class NotAFeedError(FeedParseError):
    """An HTML page, JSON, or XML that is no RSS or Atom: the URL is not the feed's."""

    permanent = True


class IllFormedFeedError(FeedParseError):
    """Broken XML with nothing readable: a publisher's slip or a cut transfer, often fixed."""


class EntityDeclarationError(FeedParseError):
    """The document declares XML entities; it is refused before parsing."""

    permanent = True

    # The default argument lets the error be pickled back from the parser process.
    def __init__(self, message: str = "entity declarations refused") -> None:
        super().__init__(message)


class StoreError(ReleaseBotError):
    """The SQLite store failed or holds something unexpected."""


class DatabaseUnusableError(StoreError):
    """The database cannot be used as it is: empty, not a database, from a newer release-bot,
    damaged, or read-only for a command that writes. Commands refuse it at start (exit 2).

    `message` names the file and what to do; `problems` lists what an integrity check found.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.message = message
        self.problems = problems or []
        super().__init__(message)


class NotFoundError(ReleaseBotError):
    """A lookup (release, feed, style) matched nothing."""


class DeliveryError(ReleaseBotError):
    """Telegram refused or failed a delivery; `message` is Telegram's description."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class ChatUnavailableError(DeliveryError):
    """403: the bot was kicked, is not a member, or was blocked. The chat's routes pause."""


class ChatNotWritableError(ChatUnavailableError):
    """A 400 about the chat, not the message: "chat not found" (deleted, or its @username
    renamed), "need administrator rights in the channel chat", "not enough rights to send
    text messages to the chat" (demoted or restricted). Paused like a 403, never a failed post.
    """


class ChatMigratedError(DeliveryError):
    """The group became a supergroup with a new id; send again there."""

    def __init__(self, message: str, new_chat_id: int) -> None:
        super().__init__(message)
        self.new_chat_id = new_chat_id


class RateLimitedError(DeliveryError):
    """429: Telegram asks us to wait `retry_after` seconds before writing to this chat."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MessageRejectedError(DeliveryError):
    """Another 400: this message will never be accepted as it is; never retried blindly."""


class TransientDeliveryError(DeliveryError):
    """A timeout, network error or 5xx: worth retrying later with backoff."""


class AnswerLostError(TransientDeliveryError):
    """The request may have reached Telegram but no answer came back (a read timeout, a
    connection dropped after sending): a send may have posted, so it is not retried blindly.
    """


class TelegramAuthError(DeliveryError):
    """401/404 on the token: nothing will work until the token is fixed."""


class DatabaseInUseError(ReleaseBotError):
    """Another `releasebot run` holds the database's run lock; `pid` is its process id."""

    def __init__(self, message: str, pid: int | None = None) -> None:
        self.message = message
        self.pid = pid
        super().__init__(message)


class FilterError(ReleaseBotError):
    """A route filter typed in a chat cannot be used (an unclosed quote, no words, too many
    or too long terms). The message says what to change and is shown to the user as is."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class OpmlError(ReleaseBotError):
    """An OPML file cannot be read: not XML, not OPML, too large, too many outlines, or
    declaring entities. The message says which and is shown to the user as is."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class StudyError(ReleaseBotError):
    """A study's metadata could not be had; `message` says why, for the log and `status`."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class StudyMetadataError(StudyError):
    """An answer from the DOI resolver or NCBI is no usable metadata: not JSON, the wrong
    shape, no title. The answer came, so asking again soon gives the same."""


class StudyServiceError(StudyError):
    """The DOI resolver or NCBI could not be asked or refused: a timeout, a network error,
    an error status (`status`, 0 when none came). `retryable` says asking again later may
    work (timeouts, 429, 5xx); `retry_after` is the server's Retry-After in seconds, None
    when it gave none."""

    def __init__(
        self,
        url: str,
        message: str,
        *,
        status: int = 0,
        retry_after: float | None = None,
        retryable: bool = True,
    ) -> None:
        self.url = url
        self.status = status
        self.retry_after = retry_after
        self.retryable = retryable
        super().__init__(f"{url}: {message}")
