"""The replies under way: a few per reader at most, in order, and dropped at a stop.

Each command a reader sends becomes one task (answer, then send). Without bounds a flood
queues hundreds of replies that Telegram's 1 message per second per chat lets out over
minutes, answering questions long forgotten, and a stop waits for all of them. So:

- a reader has at most `per_reader` replies pending; the next command gets one "slow
  down" answer, and the rest of the burst is dropped (logged once it is over);
- a chat has at most `per_chat` replies pending (a group of many readers);
- a reader's replies go out in the order of the commands, each sent once the earlier ones
  are out (or dropped), so a slow command holds up only its own reader;
- `stop()` drops every reply not yet under way (they answer old questions) and lets those
  already sent to Telegram finish, for at most `grace` seconds.

No PTB here: `bot.telegram.commands` gives it coroutines to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Literal

log = logging.getLogger(__name__)

MAX_PENDING_PER_READER = 3
MAX_PENDING_PER_CHAT = 10
STOP_GRACE = 5.0  # seconds a reply already sent to Telegram may take to be answered at a stop

Verdict = Literal["answer", "slow down", "drop"]
# Makes a reply's coroutine, given the reader's earlier replies still under way.
ReplyMaker = Callable[[list["asyncio.Task[None]"]], Coroutine[Any, Any, None]]


class ReplyTasks:
    """Admit, run in order and stop the replies; `sending()` marks a reply under way."""

    def __init__(
        self,
        *,
        per_reader: int = MAX_PENDING_PER_READER,
        per_chat: int = MAX_PENDING_PER_CHAT,
    ) -> None:
        self.per_reader = per_reader
        self.per_chat = per_chat
        self.stopping = False
        self._by_reader: dict[int, list[asyncio.Task[None]]] = {}
        self._by_chat: Counter[int] = Counter()
        self._told: set[int] = set()  # readers told to slow down in this burst
        self._unanswered: Counter[int] = Counter()  # commands dropped in this burst
        self._sending: set[asyncio.Task[None]] = set()

    def admit(self, reader: int, chat: int) -> Verdict:
        """What to do with a command: answer it, tell the reader to slow down, or drop it."""
        if self.stopping:
            return "drop"
        if len(self._by_reader.get(reader, ())) < self.per_reader and (
            self._by_chat[chat] < self.per_chat
        ):
            return "answer"
        self._unanswered[reader] += 1
        if reader in self._told or self._by_chat[chat] >= self.per_chat:
            return "drop"
        self._told.add(reader)
        return "slow down"

    def start(self, reader: int, chat: int, make: ReplyMaker) -> None:
        """Run the reply `make` builds, after `admit` said to answer or to slow down."""
        earlier = list(self._by_reader.get(reader, ()))
        task = asyncio.create_task(self._run(make, earlier), name=f"reply:{chat}")
        self._by_reader.setdefault(reader, []).append(task)
        self._by_chat[chat] += 1
        task.add_done_callback(lambda done: self._finished(done, reader, chat))

    @contextlib.contextmanager
    def sending(self) -> Iterator[None]:
        """Around a call to Telegram: a stop lets it finish (it may already be delivered)."""
        task = asyncio.current_task()
        if task is None:  # not run by start(): nothing to mark
            yield
            return
        self._sending.add(task)
        try:
            yield
        finally:
            self._sending.discard(task)

    @property
    def pending(self) -> int:
        """Replies admitted and not yet finished."""
        return sum(len(tasks) for tasks in self._by_reader.values())

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Drop the replies not under way; give those under way `grace` seconds to finish."""
        self.stopping = True
        tasks = [task for tasks in self._by_reader.values() for task in tasks]
        waiting = [task for task in tasks if task not in self._sending]
        for task in waiting:
            task.cancel()
        if waiting:
            log.info("stopping: %d replies not sent (answers to old questions)", len(waiting))
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    async def _run(make: ReplyMaker, earlier: list[asyncio.Task[None]]) -> None:
        # The coroutine is made here, not in start(): a task cancelled before it runs
        # must not leave a coroutine that was never awaited.
        try:
            await make(earlier)
        except Exception:  # one reply's bug must not leave its reader's queue stuck
            log.exception("a reply failed")

    def _finished(self, task: asyncio.Task[None], reader: int, chat: int) -> None:
        tasks = self._by_reader.get(reader, [])
        if task in tasks:
            tasks.remove(task)
        self._by_chat[chat] -= 1
        if self._by_chat[chat] <= 0:
            del self._by_chat[chat]
        if tasks:
            return
        self._by_reader.pop(reader, None)
        self._told.discard(reader)
        unanswered = self._unanswered.pop(reader, 0)
        if unanswered and not self.stopping:
            log.warning(
                "reader %d sent commands faster than replies can go: %d not answered",
                reader,
                unanswered,
            )
