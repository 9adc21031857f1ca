"""SQLite files opened the way a server uses them: connections kept open, write-ahead log, commits that
do not wait for the disk.

SQLAlchemy 1.4 opens a new connection to a SQLite file for every use (its default pool for files),
and SQLite's default journal makes each commit wait for the disk twice. The service database
(tickets, queue, consoles' events) and the tracker store get a pool of open connections instead, in
write-ahead-log mode with `synchronous=NORMAL`: a commit appends to the log and returns; it survives
a crash or `kill -9` of the process (the operating system has the log), and only a power loss or an
operating-system crash can lose the last commits (the file is never corrupted). Readers do not block
the writer, and several processes (Rasa, action and upload servers) share the file as before.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def _write_ahead_log(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def is_sqlite_file(url: Any) -> bool:
    url = sa.engine.make_url(url)
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")


def sqlite_file_engine(url: Any, **kwargs: Any) -> Engine:
    """An engine for a SQLite file: a pool of open connections in write-ahead-log mode."""
    engine = sa.create_engine(
        url,
        poolclass=sa.pool.QueuePool,
        pool_size=2,
        max_overflow=8,
        # The pool hands a connection to one user at a time, whichever thread that is.
        connect_args={"check_same_thread": False},
        **kwargs,
    )
    sa.event.listen(engine, "connect", _write_ahead_log)
    return engine
