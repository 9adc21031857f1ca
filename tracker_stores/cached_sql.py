"""Rasa's SQL tracker store with the trackers of recent conversations kept in the server's memory.

Rasa 3.6's `SQLTrackerStore.retrieve` reads, JSON-decodes and replays every event of the conversation's
session on every message, so a reply gets slower as the conversation grows (messages 191-200 of one
conversation took 6x longer than messages 1-10). This subclass keeps the last trackers it saved or
loaded (LRU, `cache_size` of them) and on `retrieve` runs one cheap query instead: the number and the
largest id of the conversation's stored rows. If they are what they were when the tracker was cached,
the database holds nothing the cached tracker lacks and a copy of it is returned; otherwise (another
Rasa server sharing the database wrote to the conversation, or anything else changed it) the tracker is
loaded from the database as Rasa does (a conversation without rows is not loaded: Rasa finds none).
Saving writes what Rasa's save writes: the events the database lacks, committed before `save` returns,
so nothing lives only in memory. Rasa counts the rows of the conversation's session to know which
events those are (a query with a sub-query per message); this store knows which events it handed out,
read from the session's rows, so a tracker that goes on from one it handed out writes the events added
since, and its new stamp follows from the rows written (if anything else wrote to the conversation
meanwhile, that stamp differs from the database's and the next `retrieve` reloads; Rasa's count would
have skipped as many of the new events). Any other tracker is saved Rasa's way. A copy is handed out,
so a message whose handling fails leaves the cached tracker as it was.

On SQLite (the laptop profile) the file is opened as the service database is
(core/sqlite_engine.py): connections kept open, write-ahead log, `synchronous=NORMAL`; still
durable across a crash or `kill -9` of the server, and several Rasa servers can share the file.
The per-message statements (the stamp; the insert, the largest id and the commit) run on the pool's
SQLite connections directly (`SqliteStatements`: SQLAlchemy's statement machinery cost more than
SQLite's work for them), with the SQL SQLAlchemy compiles for them.
"""

from __future__ import annotations

import copy
import json
import logging
from collections import OrderedDict
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from agents import live, user_queue
from core import clock
from core.sqlite_engine import is_sqlite_file, sqlite_file_engine
from tuning import (
    applied_events,
    debug_copies,
    graph_runner,
    logistic_regression,
    past_states,
    rule_lookup,
    skops_import,
    startup,
    tracker_copy,
)

logger = logging.getLogger(__name__)

# A cached tracker keeps what it computed: its applied events and the states the policies read are
# continued, not redone, per message; Rasa's temporary copies of it copy its state instead of
# replaying its events (tuning/).
applied_events.install()
past_states.install()
tracker_copy.install()
# Loaded with the server's endpoints, before its model: the intent classifier's weights are stored in
# the order its prediction reads them (tuning/logistic_regression.py); the model's graph is run without
# dask's scheduler (tuning/graph_runner.py); per-request work done once (tuning/startup.py).
logistic_regression.install()
skops_import.import_skops()  # the classifier's file format, imported in 1 s instead of 4
graph_runner.install()
startup.install()
# No deep copies for debug lines that are not written (tuning/debug_copies.py); the rules that fit
# the end of a conversation looked up once per end (tuning/rule_lookup.py).
debug_copies.install()
rule_lookup.install()

Stamp = Tuple[int, Optional[int]]  # number of stored rows of the conversation, largest id


class HandedOut(NamedTuple):
    """What the database held of a conversation when its tracker was handed out."""

    stamp: Stamp
    session_rows: int  # rows of the latest session: the first events of the tracker handed out
    last_event: Optional[Any]  # the tracker's event for the last of them


def copy_tracker(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """A tracker with the same state whose mutable parts are its own, without replaying the events.

    Events are immutable once logged (the tracker only appends new ones); the state the tracker
    changes in place (events, slots, active loop, latest action) is copied.
    """
    clone = copy.copy(tracker)
    clone.events = tracker._create_events(list(tracker.events))
    clone.slots = copy.copy(tracker.slots)  # keeps AnySlotDict's type for trackers without a domain
    for name, slot in tracker.slots.items():
        clone.slots[name] = tracker_copy.copy_slot(slot)
    clone.active_loop = copy.copy(tracker.active_loop)
    clone.latest_action = dict(tracker.latest_action) if tracker.latest_action else tracker.latest_action
    return clone


class SqliteStatements:
    """The store's per-message statements on the pool's SQLite connections, without SQLAlchemy's
    statement machinery (which costs more than SQLite's own work for them); the SQL is SQLAlchemy's,
    compiled once."""

    COLUMNS = ("sender_id", "type_name", "timestamp", "intent_name", "action_name", "data")

    def __init__(self, engine: Any, table: sa.Table, stamp_query: Any, largest_id_query: Any) -> None:
        self.engine = engine
        self.stamp_sql = self._sql(stamp_query)
        self.largest_sql = self._sql(largest_id_query)
        self.insert_sql = self._sql(
            table.insert().values({name: sa.bindparam(name) for name in self.COLUMNS})
        )

    def _sql(self, statement: Any) -> str:
        return str(statement.compile(dialect=self.engine.dialect))

    def stamp(self, sender_id: str) -> Stamp:
        connection = self.engine.raw_connection()
        try:
            count, largest = connection.cursor().execute(self.stamp_sql, (sender_id,)).fetchone()
        finally:
            connection.close()  # back to the pool
        return int(count), largest

    def insert(self, sender_id: str, rows: List[Dict[str, Any]]) -> Optional[int]:
        """Inserts and commits the rows; returns the conversation's largest id after them."""
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.executemany(self.insert_sql, [tuple(row[name] for name in self.COLUMNS) for row in rows])
            (largest,) = cursor.execute(self.largest_sql, (sender_id,)).fetchone()
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()
        return largest


class CachedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` with an in-process LRU cache of trackers, checked against the database."""

    def __init__(self, *args: Any, cache_size: int = 1000, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[str, Tuple[Stamp, DialogueStateTracker]] = OrderedDict()
        self._handed_out: OrderedDict[str, HandedOut] = OrderedDict()
        event, sender = self.SQLEvent, sa.bindparam("sender_id")
        self._stamp_query = sa.select(sa.func.count(event.id), sa.func.max(event.id)).where(
            event.sender_id == sender
        )
        self._largest_id = sa.select(sa.func.max(event.id)).where(event.sender_id == sender)
        self._sqlite: Optional[SqliteStatements] = None
        if is_sqlite_file(self.engine.url):
            self._keep_sqlite_connections()
            self._sqlite = SqliteStatements(
                self.engine, self.SQLEvent.__table__, self._stamp_query, self._largest_id
            )

    @property
    def domain(self) -> Domain:
        return self._domain

    @domain.setter
    def domain(self, domain: Optional[Domain]) -> None:
        """Set by Rasa when the server has loaded its model: the loaded objects are frozen then
        (tuning/startup.py)."""
        self._domain = domain or Domain.empty()
        if not self._domain.is_empty():
            startup.freeze_loaded_objects()

    def _keep_sqlite_connections(self) -> None:
        """The same SQLite file through a pool of open connections in write-ahead-log mode."""
        url = self.engine.url
        self.engine.dispose()
        self.engine = sqlite_file_engine(url)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    def _stamp(self, session: Any, sender_id: str) -> Stamp:
        count, largest = session.execute(self._stamp_query, {"sender_id": sender_id}).one()
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
            self._handed_out.clear()
        else:
            self._cache.pop(sender_id, None)
            self._handed_out.pop(sender_id, None)

    def _hand_out(self, sender_id: str, stamp: Stamp, tracker: Optional[DialogueStateTracker]) -> None:
        """Notes that `tracker` holds exactly the rows of the conversation's session as of `stamp`
        (None: the conversation has no rows)."""
        events = tracker.events if tracker is not None else []
        self._handed_out[sender_id] = HandedOut(stamp, len(events), events[-1] if events else None)
        self._handed_out.move_to_end(sender_id)
        while len(self._handed_out) > self.cache_size:
            self._handed_out.popitem(last=False)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        if self._sqlite is not None:
            stamp = self._sqlite.stamp(sender_id)  # taken before any loading: never newer than it
        else:
            with self.session_scope() as session:
                stamp = self._stamp(session, sender_id)
        cached = self._cache.get(sender_id)
        if cached is not None and cached[0] == stamp and self.domain is not None:
            self._cache.move_to_end(sender_id)
            tracker = copy_tracker(cached[1])
            self._hand_out(sender_id, stamp, tracker)
            return tracker
        self._handed_out.pop(sender_id, None)
        if stamp[0] == 0:  # no row of the conversation: Rasa's query finds none either
            self._cache.pop(sender_id, None)
            self._hand_out(sender_id, stamp, None)  # a new tracker saves all its events
            return None
        tracker = await super().retrieve(sender_id)
        if tracker is None:
            self._cache.pop(sender_id, None)
        else:
            self._remember(sender_id, stamp, tracker)
            # Loaded with Rasa's query of the session's rows (if anything wrote since `stamp`, the
            # stamp differs at `save`, which then counts them Rasa's way).
            self._hand_out(sender_id, stamp, tracker)
        return tracker

    def _known_rows(self, tracker: DialogueStateTracker) -> Optional[Tuple[Stamp, int]]:
        """The database's stamp and the number of rows of the latest session when `tracker`'s
        conversation was handed out, if `tracker` goes on from the tracker handed out."""
        known = self._handed_out.get(tracker.sender_id)
        events = tracker.events
        if (
            known is not None
            and known.session_rows <= len(events)
            and (known.session_rows == 0 or events[known.session_rows - 1] is known.last_event)
        ):
            return known.stamp, known.session_rows
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save (the new events, committed); then the tracker is cached if `retrieve` would
        return the same: no new session started in it and it holds exactly the session's rows."""
        sender_id = tracker.sender_id
        self._cache.pop(sender_id, None)  # if saving fails, the next retrieve reads the database
        await self.stream_events(tracker)
        known = self._known_rows(tracker)
        if known is not None and self._sqlite is not None:
            before, stored = known  # (see below) written on a kept SQLite connection
            new_events, rows = self._new_rows(tracker, stored)
            largest = self._sqlite.insert(sender_id, rows) if rows else before[1]
        else:
            with self.session_scope() as session:
                if known is None:  # Rasa's count of the session's rows
                    before = self._stamp(session, sender_id)
                    stored = self._event_query(
                        session, sender_id, fetch_events_from_all_sessions=False
                    ).count()
                else:
                    # What Rasa would count, unless something else wrote to the conversation since it
                    # was handed out: then this writes all the tracker's new events (Rasa's count would
                    # skip as many of them), and the stamp below differs from the database's.
                    before, stored = known
                new_events, rows = self._new_rows(tracker, stored)
                largest = before[1]
                if rows:
                    session.execute(self.SQLEvent.__table__.insert(), rows)
                    largest = session.execute(self._largest_id, {"sender_id": sender_id}).scalar()
                session.commit()
        # The stamp the database has after this commit, unless something else wrote to the
        # conversation since `before` (then it differs, and the next retrieve reloads).
        stamp = (before[0] + len(rows), largest)
        self._handed_out.pop(sender_id, None)
        logger.debug(f"Tracker with sender_id '{sender_id}' stored to database")
        waiting = tracker.is_paused() or tracker.get_slot("queued_for_human")
        if waiting and any(isinstance(event, UserUttered) for event in new_events):
            # The user wrote while queued for or talking with an agent: the consoles must hear it.
            live.safe_publish(sender_id, "message")
            if tracker.get_slot("queued_for_human") and not tracker.is_paused():
                user_queue.safe_touch(sender_id, clock.now())  # still waiting: not idle
        fresh_session = any(isinstance(event, SessionStarted) for event in new_events)
        if stored <= len(tracker.events) and not fresh_session:
            self._remember(sender_id, stamp, tracker)
            self._hand_out(sender_id, stamp, tracker)  # the session's rows are the tracker's events
        elif fresh_session and known is not None and known[0][0] == stored:
            # A new session, and the tracker's events are every row of the conversation (a new
            # conversation's first message): what Rasa's retrieve would load is known without a query.
            loaded = self._latest_session(tracker, [row["data"] for row in rows], stored)
            if loaded is not None:
                self._remember(sender_id, stamp, loaded)
                self._hand_out(sender_id, stamp, loaded)

    def _latest_session(
        self, tracker: DialogueStateTracker, new_rows_data: List[str], stored: int
    ) -> Optional[DialogueStateTracker]:
        """The tracker Rasa's `retrieve` makes when the conversation's rows are `tracker`'s events
        (the first `stored` of them written before, then `new_rows_data`): the rows from the latest
        `SessionStarted`'s timestamp on, decoded and replayed as Rasa does."""
        events = list(tracker.events)
        data = [json.dumps(event.as_dict()) for event in events[:stored]] + new_rows_data
        starts = [event.timestamp for event in events if isinstance(event, SessionStarted)]
        if not self.domain or not starts or len(data) != len(events):  # as Rasa: no domain, no tracker
            return None
        latest = max(starts)
        session = [json.loads(row) for event, row in zip(events, data) if event.timestamp >= latest]
        return DialogueStateTracker.from_dict(tracker.sender_id, session, self.domain.slots)

    def _new_rows(self, tracker: DialogueStateTracker, stored: int) -> Tuple[List[Any], List[Dict[str, Any]]]:
        """The tracker's events after the first `stored` ones, and their rows."""
        new_events = list(tracker.events)[stored:]
        return new_events, [self._row(tracker.sender_id, event) for event in new_events]

    def _row(self, sender_id: str, event: Any) -> Dict[str, Any]:
        """The row Rasa's `SQLTrackerStore.save` writes for an event."""
        data = event.as_dict()
        return dict(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            action_name=data.get("name"),
            data=json.dumps(data),
        )
