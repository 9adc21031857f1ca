"""The service's own records in SQL: tickets, the human-agent queue, satisfaction ratings and the
evidence files uploaded for tickets (evidence/storage.py writes those; the files are on disk).

A SQLite file by default (var/service.db); set CS_DATABASE_URL (any SQLAlchemy URL, e.g.
postgresql://user:pass@host/db) to use another database. Its schema is migrations/' revisions, brought to
the newest on first use (or by `make migrate`): a change to a table here is a new revision there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import List, Optional

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    func,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

import migrations
from core.clock import SERVICE_TIMEZONE
from core.parsing import format_ticket_number
from core.sqlite_engine import is_sqlite_file, sqlite_file_engine

# What callers catch when the database cannot be reached or refuses a statement.
StoreError = SQLAlchemyError

DATABASE_URL_VARIABLE = "CS_DATABASE_URL"
DEFAULT_SQLITE_FILE = Path(__file__).resolve().parent.parent / "var" / "service.db"
TICKET_PREFIX = "DY"

metadata = MetaData()

tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", String(32), unique=True, index=True),
    Column("conversation_id", String(255), nullable=False, index=True),
    Column("topic", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("contact_channel", String(16), nullable=False),
    Column("contact_detail", String(255), nullable=False),
    Column("status", String(16), nullable=False, default="open"),
    Column("created_at", DateTime, nullable=False),  # naive UTC
)

handoff_queue = Table(
    "handoff_queue",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(255), nullable=False, index=True),
    Column("topic", String(64), nullable=False),
    Column("description", Text, nullable=False),
    # waiting | taken | closed | abandoned (the user left or went silent: agents/user_queue.py)
    Column("status", String(16), nullable=False, default="waiting"),
    Column("enqueued_at", DateTime, nullable=False),  # naive UTC
    Column("agent", String(64)),
    Column("last_seen_at", DateTime),  # the user's last message while waiting (naive UTC)
    Column("left_at", DateTime),  # when it was abandoned
)

OPEN_QUEUE_STATUSES = ("waiting", "taken")

# What human agents did, from the agent console: who took a conversation, when, what they said.
agent_actions = Table(
    "agent_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(255), nullable=False, index=True),
    Column("agent", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # take | reply | close
    Column("text", Text, nullable=False, default=""),
    Column("at", DateTime, nullable=False),  # naive UTC
)

ratings = Table(
    "ratings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(255), nullable=False, index=True),
    Column("topic", String(64), nullable=False),
    Column("score", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),  # naive UTC
)

# Evidence for a ticket (evidence/): one row per stored file, written after the file is in place and
# deleted before it is removed, so a row never names a missing file. A file is stored once per ticket.
evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_number", String(32), nullable=False, index=True),
    Column("conversation_id", String(255), nullable=False, index=True),
    Column("kind", String(8), nullable=False),  # image | video
    Column("content_type", String(32), nullable=False),  # checked from the content, never the name
    Column("file_name", String(96), nullable=False),  # <sha256>.<ext> in the ticket's folder
    Column("thumbnail", String(96)),  # <sha256>.thumb.jpg, or none (no ffmpeg, undecodable frame)
    Column("size", Integer, nullable=False),  # bytes stored (pictures are re-encoded)
    Column("sha256", String(64), nullable=False),  # of the stored file
    Column("upload_size", Integer, nullable=False),  # bytes received: what the limits count
    Column("upload_sha256", String(64), nullable=False),  # of the bytes received: a re-upload is known
    Column("original_name", String(255), nullable=False),  # shown only, never used as a path
    Column("note", Text, nullable=False, default=""),
    Column("uploader", String(64), nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("duration", Float),  # seconds, videos with ffprobe
    Column("preview", String(16), nullable=False, default=""),  # "" | no_ffmpeg | no_frame
    Column("notified", Boolean, nullable=False, default=False),  # counted in a "已收到 N 个文件"
    Column("created_at", DateTime, nullable=False),  # naive UTC, real time (retention counts from it)
    UniqueConstraint("ticket_number", "sha256", name="evidence_ticket_sha256"),
)


def database_url() -> str:
    return os.environ.get(DATABASE_URL_VARIABLE) or f"sqlite:///{DEFAULT_SQLITE_FILE}"


@lru_cache(maxsize=None)
def _engine_for(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite_file(url):
        engine = sqlite_file_engine(url, future=True)
    else:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    # Every table of the service database (these and agents/schema.py's), at the newest revision.
    migrations.ensure_current(url)
    return engine


def engine() -> Engine:
    return _engine_for(database_url())


def to_stored_time(moment: datetime) -> datetime:
    """How times are stored: naive UTC (a naive `moment` is taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def to_service_time(stored: datetime) -> datetime:
    return stored.replace(tzinfo=timezone.utc).astimezone(SERVICE_TIMEZONE)


@dataclass(frozen=True)
class Ticket:
    number: str
    conversation_id: str
    topic: str
    description: str
    contact_channel: str
    contact_detail: str
    status: str
    created_at: datetime  # in the service's timezone


# A ticket reserved for an evidence link (evidence/offer.py): it has a number for the link to name but
# is nobody's ticket yet: no count, list or look-up shows it until its first file arrives
# (`open_draft_ticket`) or the ticket form completes it.
DRAFT = "draft"


def create_ticket(
    conversation_id: str,
    topic: str,
    description: str,
    contact_channel: str,
    contact_detail: str,
    now: datetime,
    status: str = "open",
) -> Ticket:
    """Stores a ticket and gives it its number, in one transaction: it exists whole or not at all."""
    with engine().begin() as connection:
        row_id = connection.execute(
            tickets.insert().values(
                conversation_id=conversation_id,
                topic=topic,
                description=description,
                contact_channel=contact_channel,
                contact_detail=contact_detail,
                status=status,
                created_at=to_stored_time(now),
            )
        ).inserted_primary_key[0]
        # The row id is unique in the database, so the number is too, whichever process creates it.
        number = format_ticket_number(TICKET_PREFIX, now.strftime("%Y%m%d"), row_id)
        connection.execute(tickets.update().where(tickets.c.id == row_id).values(number=number))
    return find_ticket(number)


def find_ticket(number: str) -> Optional[Ticket]:
    with engine().connect() as connection:
        row = connection.execute(select(tickets).where(tickets.c.number == number)).first()
    if row is None:
        return None
    return Ticket(
        number=row.number,
        conversation_id=row.conversation_id,
        topic=row.topic,
        description=row.description,
        contact_channel=row.contact_channel,
        contact_detail=row.contact_detail,
        status=row.status,
        created_at=to_service_time(row.created_at),
    )


def complete_ticket(number: str, description: str, contact_channel: str, contact_detail: str) -> Ticket:
    """Fills in a ticket opened for evidence (actions/evidence_offer.py) with the ticket form's answers;
    a draft becomes an open ticket."""
    with engine().begin() as connection:
        connection.execute(
            tickets.update()
            .where(tickets.c.number == number)
            .values(description=description, contact_channel=contact_channel, contact_detail=contact_detail)
        )
        open_draft_ticket(number, connection)
    return find_ticket(number)


def open_draft_ticket(number: str, connection: Optional[Connection] = None) -> None:
    """A draft ticket becomes an open one (its first file arrived, or the user asked for a ticket)."""
    update = (
        tickets.update().where(tickets.c.number == number, tickets.c.status == DRAFT).values(status="open")
    )
    if connection is not None:
        connection.execute(update)
        return
    with engine().begin() as own:
        own.execute(update)


def ticket_evidence_names(number: str) -> List[str]:
    """The names of the files uploaded for a ticket, oldest first."""
    query = select(evidence.c.original_name).where(evidence.c.ticket_number == number).order_by(evidence.c.id)
    with engine().connect() as connection:
        return list(connection.execute(query).scalars())


def set_ticket_status(number: str, status: str) -> None:
    with engine().begin() as connection:
        connection.execute(tickets.update().where(tickets.c.number == number).values(status=status))


def enqueue_for_human(conversation_id: str, topic: str, description: str, now: datetime) -> int:
    """Puts the conversation in the human-agent queue (once) and returns its 1-based position."""
    with engine().begin() as connection:
        waiting = handoff_queue.c.status == "waiting"
        entry_id = connection.execute(
            select(handoff_queue.c.id).where(waiting, handoff_queue.c.conversation_id == conversation_id)
        ).scalar()
        if entry_id is None:
            entry_id = connection.execute(
                handoff_queue.insert().values(
                    conversation_id=conversation_id,
                    topic=topic,
                    description=description,
                    status="waiting",
                    enqueued_at=to_stored_time(now),
                )
            ).inserted_primary_key[0]
        return connection.execute(
            select(func.count()).where(waiting, handoff_queue.c.id <= entry_id)
        ).scalar_one()


def save_rating(conversation_id: str, topic: str, score: int, now: datetime) -> None:
    with engine().begin() as connection:
        connection.execute(
            ratings.insert().values(
                conversation_id=conversation_id, topic=topic, score=score, created_at=to_stored_time(now)
            )
        )


@dataclass(frozen=True)
class QueueEntry:
    conversation_id: str
    topic: str
    description: str
    status: str
    agent: Optional[str]
    enqueued_at: datetime  # in the service's timezone


def queue_topic(conversation_id: str) -> Optional[str]:
    """The topic the conversation was queued with (its latest entry)."""
    query = (
        select(handoff_queue.c.topic)
        .where(handoff_queue.c.conversation_id == conversation_id)
        .order_by(handoff_queue.c.id.desc())
    )
    with engine().connect() as connection:
        return connection.execute(query).scalar()


def open_queue() -> List[QueueEntry]:
    """Conversations waiting for or talking with a human, oldest first."""
    query = (
        select(handoff_queue)
        .where(handoff_queue.c.status.in_(OPEN_QUEUE_STATUSES))
        .order_by(handoff_queue.c.id)
    )
    with engine().connect() as connection:
        rows = connection.execute(query).fetchall()
    return [
        QueueEntry(
            conversation_id=row.conversation_id,
            topic=row.topic,
            description=row.description,
            status=row.status,
            agent=row.agent,
            enqueued_at=to_service_time(row.enqueued_at),
        )
        for row in rows
    ]
