"""Schema migrations (migrations/) and backups (scripts/backup.py) on real SQLite files and a real
PostgreSQL server: a database made before migrations existed keeps every row, a fresh one gets exactly
the code's tables, a later revision (a column and a table) goes on top and comes off again, servers
starting at once migrate once, and a backup comes back whole."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import migrations
from agents import accounts, schema
from core import store
from review import schema as review_schema
from scripts import backup
from tests import postgres
from tests.conftest import ROOT

LEGACY = ROOT / "tests" / "data" / "schema_before_migrations"
TABLES = [
    *store.metadata.sorted_tables,
    *schema.metadata.sorted_tables,
    *review_schema.metadata.sorted_tables,
]
ROWS = 12  # per table


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path: Path) -> str:
    """A new, empty database of each kind (PostgreSQL: a new database on the module's server)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'service.db'}"
    server = request.getfixturevalue("pg")
    name = f"t_{tmp_path.name.lower().replace('-', '_')}"[:60]
    admin = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.url.rsplit("/", 1)[0] + f"/{name}"


def engine(url: str) -> sa.engine.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def run_sql_file(url: str, path: Path, tables: List[str] = ()) -> None:
    """Runs the statements of `path` (those about `tables` only, when given)."""
    statements = [s.strip() for s in path.read_text("utf-8").split(";\n") if s.strip()]
    statements = [s for s in statements if not s.startswith("--") or "\n" in s]
    with engine(url).begin() as connection:
        for statement in statements:
            lines = [line for line in statement.splitlines() if not line.startswith("--")]
            statement = "\n".join(lines).strip()
            if statement and (not tables or any(f" {t} " in statement + " " for t in tables)):
                connection.exec_driver_sql(statement)


def legacy_database(url: str, tables: List[str] = ()) -> None:
    """The tables as the code before migrations made them (tests/data/schema_before_migrations/)."""
    dialect = sa.engine.make_url(url).get_backend_name()
    run_sql_file(url, LEGACY / f"{dialect}.sql", tables)


def value(column: sa.Column, row: int):
    """A value of the column's type: Chinese text, quotes and new lines, microseconds, NULLs."""
    if column.nullable and row % 3 == 2:
        return None
    if column.name == "username":  # a name the project's code accepts
        return f"agent{row}"
    if column.name == "status":  # tickets, queue entries: every status the code knows
        return ["waiting", "taken", "closed"][row % 3]
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return row % 2 == 0
    if isinstance(kind, sa.Integer):
        return row * 7 + len(column.name)
    if isinstance(kind, sa.Float):
        return row * 1.25 + 0.1
    if isinstance(kind, sa.DateTime):
        return datetime(2026, 11, 25, 10, 0, 0, 1001 * row) + timedelta(minutes=row, seconds=len(column.name))
    text = f"{row}-{column.name}-账号被封「怎么办」'\"\n第二行"
    return text[: kind.length] if getattr(kind, "length", None) else text


def fill(url: str, tables: List[sa.Table] = TABLES) -> None:
    """ROWS rows in every table, ids given by the database (as the servers' inserts are), in the
    columns the database has (an old database lacks the columns of later revisions)."""
    with engine(url).begin() as connection:
        present = set(sa.inspect(connection).get_table_names())
        for code_table in tables:
            if code_table.name not in present:  # made by a later revision
                continue
            table = sa.Table(code_table.name, sa.MetaData(), autoload_with=connection)
            for row in range(ROWS):
                values = {
                    c.name: value(c, row)
                    for c in table.columns
                    if not (c.primary_key and isinstance(c.type, sa.Integer))
                }
                connection.execute(table.insert().values(**values))


def rows(
    url: str, tables: List[sa.Table] = TABLES, shape: Optional[Dict[str, List[str]]] = None
) -> Dict[str, list]:
    """Every row of every table, in primary-key order, read as the database has it; `shape`: only
    these columns (those a database had before an upgrade added more, from `columns`)."""
    shape = shape or columns(url)
    found = {}
    with engine(url).connect() as connection:
        for table in tables:
            if table.name not in shape:  # made by a later revision
                continue
            reflected = sa.Table(table.name, sa.MetaData(), autoload_with=connection)
            order = list(reflected.primary_key.columns)
            chosen = [reflected.c[name] for name in shape[table.name]]
            found[table.name] = [tuple(r) for r in connection.execute(sa.select(*chosen).order_by(*order))]
    return found


def columns(url: str) -> Dict[str, List[str]]:
    """Each table's column names, in the database's order."""
    with engine(url).connect() as connection:
        inspector = sa.inspect(connection)
        return {
            name: [c["name"] for c in inspector.get_columns(name)] for name in inspector.get_table_names()
        }


def differences(url: str) -> list:
    """What the database's schema lacks or has beyond the code's tables (alembic's own comparison)."""
    with engine(url).connect() as connection:
        context = MigrationContext.configure(connection)
        return compare_metadata(context, [store.metadata, schema.metadata, review_schema.metadata])


def version(url: str) -> tuple:
    return migrations.current(url)


def test_the_code_has_one_newest_revision() -> None:
    assert len(migrations.heads()) == 1, (
        f"two revisions name the same parent: {migrations.heads()}. Set the down_revision of the one "
        "merged last to the other's revision id (migrations/README.md)."
    )


def test_a_new_database_gets_exactly_the_codes_tables(empty_url: str, monkeypatch) -> None:
    monkeypatch.setenv(store.DATABASE_URL_VARIABLE, empty_url)
    store.engine()  # what every server does first
    assert version(empty_url) == migrations.heads()
    assert differences(empty_url) == []
    with engine(empty_url).connect() as connection:
        names = set(sa.inspect(connection).get_table_names())
    assert names == {t.name for t in TABLES} | {"alembic_version"}


def test_a_database_from_before_migrations_keeps_every_row(empty_url: str, monkeypatch) -> None:
    legacy_database(empty_url)
    fill(empty_url)
    before = rows(empty_url)
    assert all(len(table_rows) == ROWS for table_rows in before.values()) and len(before) == 11
    assert version(empty_url) == ()
    shape = columns(empty_url)

    monkeypatch.setenv(store.DATABASE_URL_VARIABLE, empty_url)
    store.engine()
    assert version(empty_url) == migrations.heads()
    assert rows(empty_url, shape=shape) == before  # the new columns aside
    assert differences(empty_url) == []

    # The project's own code on the upgraded rows: a stored ticket is found, new rows follow the old ids.
    number = before["tickets"][0][1]
    assert store.find_ticket(number).description == before["tickets"][0][4]
    now = datetime(2026, 12, 6)
    ticket = store.create_ticket("c-new", "account_ban", "新的", "phone", "13800138000", now)
    assert ticket.number.endswith(f"{ROWS + 1:06d}")
    accounts.create_agent("newagent", "新人", "correct-horse-battery")
    assert [a.username for a in accounts.list_agents()][:2] == ["agent0", "agent1"]
    with pytest.raises(accounts.AccountError):  # the stored agent is found
        accounts.create_agent("agent0", "重名", "correct-horse-battery")
    stored = dict(zip([c.name for c in schema.agents.columns], before["agents"][1]))
    with pytest.raises(sa.exc.IntegrityError), store.engine().begin() as connection:  # its unique index
        connection.execute(schema.agents.insert().values({**stored, "id": None}))
    assert len(store.open_queue()) == sum(1 for r in before["handoff_queue"] if r[4] in ("waiting", "taken"))


def test_a_database_with_only_the_tickets_tables_gets_the_agents_ones(tmp_path: Path) -> None:
    """An action server alone made only core/store.py's tables before migrations."""
    url = f"sqlite:///{tmp_path / 'service.db'}"
    legacy_database(url, [t.name for t in store.metadata.sorted_tables])
    fill(url, store.metadata.sorted_tables)
    before, shape = rows(url, store.metadata.sorted_tables), columns(url)
    migrations.ensure_current(url)
    assert rows(url, store.metadata.sorted_tables, shape) == before
    assert differences(url) == []


def test_a_table_older_than_the_baseline_is_named_not_half_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    with engine(url).begin() as connection:
        connection.exec_driver_sql("CREATE TABLE agents (id INTEGER PRIMARY KEY, username VARCHAR(32))")
    with pytest.raises(RuntimeError, match="agents lacks the columns display_name, password_hash"):
        migrations.ensure_current(url)
    with engine(url).connect() as connection:  # all or nothing: no other table, no version
        assert set(sa.inspect(connection).get_table_names()) == {"agents"}


# What another branch adds: a column with a value for the rows already there, and a table.
LATER_REVISION = '''
"""A sample revision: a column on agents and a new table

Revision ID: 9999
Revises: {head}
"""

import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("team", sa.String(16), nullable=False, server_default="general"))
    op.create_table(
        "sample_reads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
        sa.Column("agent", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sample_reads")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("team")
'''


def test_a_later_revision_goes_on_top_and_comes_off(empty_url: str, tmp_path: Path) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(migrations.SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (head,) = migrations.heads()
    sample = textwrap.dedent(LATER_REVISION).replace("{head}", head)
    (scripts / "versions" / "9999_sample.py").write_text(sample, "utf-8")
    legacy_database(empty_url)
    fill(empty_url)
    migrations.upgrade(empty_url)  # the project's revisions first
    before, shape = rows(empty_url), columns(empty_url)

    migrations.upgrade(empty_url, scripts=scripts)
    assert version(empty_url) == ("9999",)
    with engine(empty_url).connect() as connection:
        teams = connection.execute(sa.text("SELECT team FROM agents ORDER BY id")).scalars().all()
        assert teams == ["general"] * ROWS
        assert "sample_reads" in sa.inspect(connection).get_table_names()
    assert rows(empty_url, shape=shape) == before

    migrations.downgrade(empty_url, head, scripts=scripts)  # SQLite: the table copied without team
    assert version(empty_url) == (head,)
    assert rows(empty_url) == before
    assert differences(empty_url) == []


CONCURRENT = """
import sys
from migrations import ensure_current
ensure_current(sys.argv[1])
"""


def test_servers_starting_at_once_migrate_once(empty_url: str) -> None:
    env = {"PYTHONPATH": str(ROOT), "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "PATH": "/usr/bin:/bin"}
    started = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT, empty_url], env=env, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in started]
    assert [p.returncode for p in started] == [0, 0, 0, 0], errors
    assert version(empty_url) == migrations.heads()
    assert differences(empty_url) == []


def test_a_database_newer_than_the_code_is_left_alone(tmp_path: Path, caplog) -> None:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    migrations.ensure_current(url)
    with engine(url).begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with caplog.at_level(logging.WARNING, logger="migrations"):
        assert migrations.ensure_current(url) == "9999"
    assert "revision 9999, which this code does not know" in caplog.text
    assert version(url) == ("9999",)


def test_a_backup_comes_back_whole(empty_url: str, tmp_path: Path) -> None:
    legacy_database(empty_url)
    fill(empty_url)
    migrations.ensure_current(empty_url)
    before = rows(empty_url)
    pg_bin = str(postgres.postgres_bin()) if empty_url.startswith("postgresql") else None
    with engine(empty_url).connect() as writer:  # a write in progress is not in the backup
        pending = writer.begin()
        writer.execute(schema.agents.delete())
        saved = backup.backup(empty_url, tmp_path / "backups", pg_bin=pg_bin)
        pending.rollback()
    assert saved.name.startswith("service-") and saved.stat().st_size > 0

    with engine(empty_url).begin() as connection:  # what an upgrade gone wrong might do
        connection.execute(store.tickets.delete())
        connection.execute(sa.text("DROP TABLE agent_notes"))
    backup.restore(saved, empty_url, pg_bin=pg_bin)
    assert rows(empty_url) == before
    assert version(empty_url) == migrations.heads()


def test_make_backup_and_make_restore(tmp_path: Path) -> None:
    """The README's commands, on a SQLite file named by CS_DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'service.db'}"
    migrations.ensure_current(url)
    fill(url, [store.tickets])
    before = rows(url)
    env = {"PATH": "/usr/bin:/bin", "CS_DATABASE_URL": url}
    make = ["make", "-s", "-C", str(ROOT)]
    made = subprocess.run([*make, "backup", f"BACKUP_DIR={tmp_path / 'b'}"], env=env, capture_output=True)
    assert made.returncode == 0, made.stderr
    saved = Path(made.stdout.decode().strip())
    assert saved.parent == tmp_path / "b" and saved.name.startswith("service-")
    with engine(url).begin() as connection:
        connection.execute(store.tickets.delete())
    restored = subprocess.run([*make, "restore", f"FILE={saved}"], env=env, capture_output=True)
    assert restored.returncode == 0, restored.stderr
    assert rows(url) == before
    migrated = subprocess.run([*make, "migrate"], env=env, capture_output=True)
    assert (
        migrated.returncode == 0 and f"{migrations.heads()[0]} (head)".encode() in migrated.stdout
    ), migrated.stderr
