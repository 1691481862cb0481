"""The project's one exception root and the errors each boundary wraps into it."""

from __future__ import annotations


class ReleaseBotError(Exception):
    """Root of every error release-bot raises on purpose."""


class ConfigError(ReleaseBotError):
    """The configuration file is missing, unreadable or invalid.

    `problems` holds one human-readable line per problem, each starting with its key path.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class FeedFetchError(ReleaseBotError):
    """A feed could not be fetched. `message` is what a person can act on."""

    def __init__(self, url: str, message: str, *, retry_after: float | None = None) -> None:
        self.url = url
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"{url}: {message}")


class FeedParseError(ReleaseBotError):
    """A fetched body is not a usable feed (HTML page, empty, entity declarations...)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class EntityDeclarationError(FeedParseError):
    """The document declares XML entities; it is refused before parsing."""

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
