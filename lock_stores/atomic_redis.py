"""Rasa's Redis lock store with atomic ticket updates, for several Rasa servers sharing conversations.

Rasa 3.6's RedisLockStore reads a conversation's lock, adds or removes a ticket in Python and writes
it back. Two servers doing that at the same moment overwrite each other's ticket, and both then handle
the same conversation at once (seen as lost tracker events when concurrent messages of a new
conversation reach two servers). Here each read-modify-write is one Redis transaction (WATCH/MULTI),
retried when another server changed the lock in between.
"""

from __future__ import annotations

import json
from typing import Callable, Optional

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import WatchError


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url or "localhost", **endpoint_config.kwargs)

    def _update(
        self, conversation_id: str, change: Callable[[TicketLock], Optional[int]], create: bool
    ) -> Optional[int]:
        """Applies `change` to the stored lock in one transaction; deletes the lock once it has no tickets."""
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    stored = pipe.get(key)
                    if stored:
                        lock = TicketLock.from_dict(json.loads(stored))
                    elif create:
                        lock = TicketLock(conversation_id)
                    else:
                        pipe.unwatch()
                        return None
                    result = change(lock)
                    pipe.multi()
                    if lock.tickets:
                        pipe.set(key, lock.dumps())
                    else:
                        pipe.delete(key)
                    pipe.execute()
                    return result
                except WatchError:
                    continue  # another server changed the lock: read it again

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        return self._update(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime), create=True)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._update(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number), create=False)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # finish_serving already deletes the lock when no ticket is left, in the same transaction.
        self.finish_serving(conversation_id, ticket_number)
