"""One lock per chat: a chat's updates run in order, different chats in parallel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["ChatLocks"]


class ChatLocks:
    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._holders: dict[int, int] = {}

    @asynccontextmanager
    async def hold(self, chat_id: int) -> AsyncIterator[None]:
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        self._holders[chat_id] = self._holders.get(chat_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            # Forget idle chats, so a long-running bot does not keep a lock per chat ever seen.
            self._holders[chat_id] -= 1
            if self._holders[chat_id] == 0:
                del self._holders[chat_id]
                del self._locks[chat_id]

    def __len__(self) -> int:
        return len(self._locks)
