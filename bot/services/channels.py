"""Pause the channels the bot cannot post in and resume those it can again; tell the admins.

Asked at start and every `bot.recheck_paused` for paused channels; the chat lookups go
through a `ChatChecker` (the Telegram adapter in production).
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.config import Settings
from bot.errors import (
    ChatMigratedError,
    ChatUnavailableError,
    MessageRejectedError,
    TransientDeliveryError,
)
from bot.logs import log_fields
from bot.models import ChatInfo
from bot.render.chat_problems import problem_from_answer, problem_from_status
from bot.render.display import format_duration
from bot.render.notices import channel_paused_notice
from bot.services.dispatcher import Dispatcher
from bot.store import Store

log = logging.getLogger(__name__)


class ChatChecker(Protocol):
    async def chat_info(self, chat: int | str) -> ChatInfo: ...


async def check_channels(
    settings: Settings,
    store: Store,
    dispatcher: Dispatcher,
    checker: ChatChecker,
    *,
    only_paused: bool = False,
) -> list[str]:
    """Resolve each channel's chat id; pause (and tell admins about) those the bot can't post in,
    resume those it can post in again (the admins hear so once a post goes through).

    A 403 or a 400 from getChat/getChatMember ("chat not found" for a deleted chat or a renamed
    @username) pauses like a status that cannot post. The admins hear once per incident: when
    it pauses (here, or in the dispatcher when a send is refused) and when it resumes.

    Returns the names of the channels paused for that reason.
    """
    blocked: list[str] = []
    every = format_duration(settings.bot.recheck_paused)
    bot_username = dispatcher.bot_username
    for channel in dispatcher.view.chats:  # the routing view: config- and (later) chat-made
        state = store.channel_state(channel.name)
        if only_paused and not state.paused:
            continue
        try:
            chat = state.chat_id if state.chat_id is not None else state.chat
            info = await _chat_info(checker, store, channel.name, chat)
        except (ChatUnavailableError, MessageRejectedError) as exc:
            problem = exc.message
            found = problem_from_answer(exc.message, channel.chat)
        except TransientDeliveryError as exc:
            log.warning(
                "channel %s: cannot check it now (%s)",
                channel.name,
                exc.message,
                extra=log_fields(channel=channel.name),
            )
            continue
        else:
            store.set_chat_id(channel.name, info.chat_id)
            problem = info.problem
            found = problem_from_status(info.status, info.kind, channel.chat)
        if problem:
            blocked.append(channel.name)
            log.error(
                "channel %s (%s): %s; its posts wait",
                channel.name,
                channel.chat,
                problem,
                extra=log_fields(channel=channel.name),
            )
            # told once per incident: a recheck that still fails, confirms the dispatcher's
            # pause, or follows a restart (already paused) is quiet
            newly = dispatcher.open_incident(channel.name)
            if newly and not store.channel_state(channel.name).paused:
                await dispatcher.notify_admins(
                    channel_paused_notice(
                        channel.name, found, bot_username=bot_username, recheck_every=every
                    )
                )
            store.pause_channel(channel.name, problem)
        elif state.paused:
            # The admins hear it resumed when a post goes through (the dispatcher): a chat
            # can look fine here and still refuse the post (e.g. members may not write).
            log.info(
                "channel %s: the bot may post again; resuming",
                channel.name,
                extra=log_fields(channel=channel.name),
            )
            store.resume_channel(channel.name)
            dispatcher.open_incident(channel.name)
    return blocked


async def _chat_info(checker: ChatChecker, store: Store, name: str, chat: int | str) -> ChatInfo:
    """What Telegram says about `chat`; a group that became a supergroup is asked about
    under its new id, which is recorded (as a send refused for that reason does)."""
    try:
        return await checker.chat_info(chat)
    except ChatMigratedError as exc:
        log.warning(
            "channel %s moved to chat %d", name, exc.new_chat_id, extra=log_fields(channel=name)
        )
        store.set_chat_id(name, exc.new_chat_id)
        return await checker.chat_info(exc.new_chat_id)
