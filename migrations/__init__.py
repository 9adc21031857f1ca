"""The service database's schema over time: Alembic revisions (versions/), brought to the newest when a
server first uses the database (core/store.py) or by `make migrate`.

Every change to a table of core/store.py or agents/schema.py is a new revision on top of the last
one (migrations/README.md); tests/test_migrations.py checks that the revisions build exactly the
tables the code declares. Several servers starting at once migrate one at a time: SQLite in one
exclusive transaction, PostgreSQL under an advisory lock, each re-reading the version once it holds it.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional, Tuple

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

logger = logging.getLogger(__name__)

SCRIPTS = Path(__file__).resolve().parent
# Any constant shared by every process that migrates the same PostgreSQL database.
POSTGRES_LOCK_KEY = 0x44594353  # "DYCS"
# Alembic's context is one per process: threads (the web server's) migrate one after the other.
_in_process = threading.Lock()


def config(url: str, scripts: Path = SCRIPTS) -> Config:
    """Alembic's configuration for the database at `url`, without alembic.ini (no logging set-up)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(scripts))
    cfg.attributes["url"] = url
    return cfg


@lru_cache(maxsize=None)
def heads() -> Tuple[str, ...]:
    """The newest revision(s) of the code: one, unless two revisions name the same parent."""
    return tuple(ScriptDirectory(str(SCRIPTS)).get_heads())


def known(revision: str) -> bool:
    script = ScriptDirectory(str(SCRIPTS))
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for unknown or ambiguous ids
        return False


def migration_engine(url: Any) -> Engine:
    """An engine of its own for migrating (no pool). On SQLite each transaction is `BEGIN EXCLUSIVE`,
    taken by SQLite itself rather than by Python's sqlite3 (which would commit before every CREATE):
    a migration is all or nothing, and a second process waits for the first (up to 60 s)."""
    if sa.engine.make_url(url).get_backend_name() != "sqlite":
        return sa.create_engine(url, poolclass=sa.pool.NullPool)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"timeout": 60})

    @sa.event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _exclusive(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN EXCLUSIVE")

    return engine


def lock(connection: Connection) -> None:
    """Inside the migration's transaction: waits for any other process migrating this database."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_LOCK_KEY})


def current(url: str) -> Tuple[str, ...]:
    """The revision(s) the database is at; () for a database without a version (new, or made before
    migrations existed)."""
    engine = migration_engine(url)
    try:
        with engine.connect() as connection:
            return tuple(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "heads", scripts: Path = SCRIPTS) -> None:
    with _in_process:
        command.upgrade(config(url, scripts), revision)


def downgrade(url: str, revision: str, scripts: Path = SCRIPTS) -> None:
    with _in_process:
        command.downgrade(config(url, scripts), revision)


def ensure_current(url: str) -> Optional[str]:
    """Brings the database at `url` to the code's newest revision, unless it is there already (one
    query). A database at a revision this code does not know (a newer version of the project migrated
    it) is left as it is, with a warning: returns that revision."""
    at = current(url)
    if set(at) == set(heads()):
        return None
    unknown = [revision for revision in at if not known(revision)]
    if unknown:
        logger.warning(
            "The service database is at revision %s, which this code does not know (its newest: %s): "
            "not migrating it. Run the newer code, or restore the backup taken before its upgrade.",
            ", ".join(unknown),
            ", ".join(heads()),
        )
        return unknown[0]
    upgrade(url)
    return None
