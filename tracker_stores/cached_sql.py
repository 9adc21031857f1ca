"""Rasa's SQL tracker store with the trackers of recent conversations kept in the server's memory.

Rasa 3.6's `SQLTrackerStore.retrieve` reads, JSON-decodes and replays every event of the conversation's
session on every message, so a reply gets slower as the conversation grows (messages 191-200 of one
conversation took 6x longer than messages 1-10). This subclass keeps the last trackers it saved or
loaded (LRU, `cache_size` of them) and on `retrieve` runs one cheap query instead: the number and the
largest id of the conversation's stored rows. If they are what they were when the tracker was cached,
the database holds nothing the cached tracker lacks and a copy of it is returned; otherwise (another
Rasa server sharing the database wrote to the conversation, or anything else changed it) the tracker is
loaded from the database as Rasa does. Saving is Rasa's own: the events the database lacks are written
and committed before `save` returns, so nothing lives only in memory. A copy is handed out, so a
message whose handling fails leaves the cached tracker as it was.
"""

from __future__ import annotations

import copy
import json
import logging
from collections import OrderedDict
from typing import Any, Optional, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from agents import live
from tuning import applied_events

logger = logging.getLogger(__name__)

# A cached tracker keeps what it computed: its applied events are continued, not redone, per message.
applied_events.install()

Stamp = Tuple[int, Optional[int]]  # number of stored rows of the conversation, largest id


def copy_tracker(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """A tracker with the same state whose mutable parts are its own, without replaying the events.

    Events are immutable once logged (the tracker only appends new ones); the state the tracker
    changes in place (events, slots, active loop, latest action) is copied.
    """
    clone = copy.copy(tracker)
    clone.events = tracker._create_events(list(tracker.events))
    clone.slots = copy.copy(tracker.slots)  # keeps AnySlotDict's type for trackers without a domain
    for name, slot in tracker.slots.items():
        clone.slots[name] = copy.copy(slot)
    clone.active_loop = copy.copy(tracker.active_loop)
    clone.latest_action = dict(tracker.latest_action) if tracker.latest_action else tracker.latest_action
    return clone


class CachedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` with an in-process LRU cache of trackers, checked against the database."""

    def __init__(self, *args: Any, cache_size: int = 1000, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[str, Tuple[Stamp, DialogueStateTracker]] = OrderedDict()

    def _stamp(self, session: Any, sender_id: str) -> Stamp:
        event = self.SQLEvent
        count, largest = (
            session.query(sa.func.count(event.id), sa.func.max(event.id))
            .filter(event.sender_id == sender_id)
            .one()
        )
        return int(count), largest

    def _remember(self, sender_id: str, stamp: Stamp, tracker: DialogueStateTracker) -> None:
        self._cache[sender_id] = (stamp, copy_tracker(tracker))
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def forget(self, sender_id: Optional[str] = None) -> None:
        """Drops one conversation's cached tracker, or all of them."""
        if sender_id is None:
            self._cache.clear()
        else:
            self._cache.pop(sender_id, None)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            stamp = self._stamp(session, sender_id)  # taken before any loading: never newer than it
        cached = self._cache.get(sender_id)
        if cached is not None and cached[0] == stamp and self.domain is not None:
            self._cache.move_to_end(sender_id)
            return copy_tracker(cached[1])
        tracker = await super().retrieve(sender_id)
        if tracker is None:
            self._cache.pop(sender_id, None)
        else:
            self._remember(sender_id, stamp, tracker)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save (the new events, committed); then the tracker is cached if `retrieve` would
        return the same: no new session started in it and it holds exactly the session's rows."""
        sender_id = tracker.sender_id
        self._cache.pop(sender_id, None)  # if saving fails, the next retrieve reads the database
        await self.stream_events(tracker)
        with self.session_scope() as session:
            stored = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).count()
            new_events = list(tracker.events)[stored:]
            for event in new_events:
                session.add(self._row(sender_id, event))
            session.commit()
            stamp = self._stamp(session, sender_id)
        logger.debug(f"Tracker with sender_id '{sender_id}' stored to database")
        if tracker.is_paused() and any(isinstance(event, UserUttered) for event in new_events):
            # The user wrote while an agent has the conversation: the agent's console must hear it.
            live.safe_publish(sender_id, "message")
        fresh_session = any(isinstance(event, SessionStarted) for event in new_events)
        if stored <= len(tracker.events) and not fresh_session:
            self._remember(sender_id, stamp, tracker)

    def _row(self, sender_id: str, event: Any) -> Any:
        """The row Rasa's `SQLTrackerStore.save` writes for an event."""
        data = event.as_dict()
        return self.SQLEvent(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            action_name=data.get("name"),
            data=json.dumps(data),
        )
