"""Agents' accounts and sessions (agents/accounts.py) and their command line (agents/cli.py), on a real
SQLite file per test (conftest's `database` fixture points CS_DATABASE_URL at it)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

import migrations
from agents import accounts, schema
from tests import postgres

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse 42"
T0 = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented defaults, whatever the developer's shell sets."""
    for name in [name for name in os.environ if name.startswith("CS_AGENT_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def xiaodou() -> accounts.Agent:
    return accounts.create_agent("XiaoDou", " 小抖 ", PASSWORD)


def refused(username: str, password: str, now: datetime) -> accounts.LoginRefused:
    with pytest.raises(accounts.LoginRefused) as caught:
        accounts.log_in(username, password, now=now)
    return caught.value


def stored_agent_row(username: str):
    with schema.engine().connect() as connection:
        return connection.execute(select(schema.agents).where(schema.agents.c.username == username)).one()


def session_rows() -> List:
    with schema.engine().connect() as connection:
        return connection.execute(select(schema.agent_sessions)).all()


def test_create_log_in_and_session_agent(xiaodou: accounts.Agent) -> None:
    assert xiaodou.username == "xiaodou"
    assert xiaodou.display_name == "小抖"
    assert xiaodou.active is True
    assert xiaodou.max_chats == 3

    session = accounts.log_in("xiaodou", PASSWORD, now=T0)
    assert session.agent == xiaodou
    assert session.expires_at == T0 + timedelta(hours=8)
    assert session.expires_at.tzinfo is not None
    assert len(session.token) >= 40
    assert accounts.session_agent(session.token, now=T0 + timedelta(hours=1)) == xiaodou
    # The user name is not case-sensitive.
    assert accounts.log_in("XIAODOU", PASSWORD, now=T0).agent.id == xiaodou.id

    # Only the token's sha256 is stored.
    rows = session_rows()
    assert len(rows) == 2
    assert session.token not in {row.token_hash for row in rows}
    assert accounts._token_hash(session.token) in {row.token_hash for row in rows}


def test_lookups_and_max_chats(xiaodou: accounts.Agent, monkeypatch: pytest.MonkeyPatch) -> None:
    other = accounts.create_agent("amy.w", "Amy", PASSWORD, max_chats=5)
    assert accounts.find_agent("XiaoDou") == xiaodou
    assert accounts.find_agent("nobody") is None
    assert accounts.agent_by_id(other.id) == other
    assert accounts.agent_by_id(9999) is None
    assert [agent.username for agent in accounts.list_agents()] == ["amy.w", "xiaodou"]

    monkeypatch.setenv("CS_AGENT_MAX_CHATS", "4")
    assert accounts.find_agent("xiaodou").max_chats == 4
    assert accounts.find_agent("amy.w").max_chats == 5
    assert accounts.set_max_chats("xiaodou", 7).max_chats == 7
    assert accounts.set_max_chats("amy.w", None).max_chats == 4
    with pytest.raises(accounts.AccountError):
        accounts.set_max_chats("xiaodou", 0)
    with pytest.raises(accounts.AccountError, match="no agent"):
        accounts.set_max_chats("nobody", 2)


def test_wrong_password_and_unknown_user_are_refused_alike(xiaodou: accounts.Agent) -> None:
    wrong = refused("xiaodou", "not the password", T0)
    unknown = refused("nobody", PASSWORD, T0)
    assert (wrong.reason, wrong.retry_after) == ("invalid", 0)
    assert (unknown.reason, unknown.retry_after) == ("invalid", 0)
    assert str(wrong) == str(unknown)
    for username, password in [("", PASSWORD), ("x" * 200, PASSWORD), ("xiaodou", ""), ("xiaodou", None)]:
        assert refused(username, password, T0).reason == "invalid"
    assert session_rows() == []


def test_lockout_after_five_failures(xiaodou: accounts.Agent) -> None:
    for attempt in range(5):
        assert refused("xiaodou", f"wrong {attempt}", T0 + timedelta(seconds=attempt)).reason == "invalid"

    # Locked even with the right password, from the fifth failure (T0 + 4 s) for five minutes.
    locked = refused("xiaodou", PASSWORD, T0 + timedelta(seconds=10))
    assert locked.reason == "locked"
    assert locked.retry_after == 5 * 60 - 6
    assert refused("XiaoDou", PASSWORD, T0 + timedelta(minutes=5)).reason == "locked"

    after = T0 + timedelta(minutes=5, seconds=5)
    session = accounts.log_in("xiaodou", PASSWORD, now=after)
    assert accounts.session_agent(session.token, now=after) == xiaodou


def test_success_resets_the_failure_count(xiaodou: accounts.Agent) -> None:
    for _ in range(4):
        refused("xiaodou", "wrong password", T0)
    accounts.log_in("xiaodou", PASSWORD, now=T0)
    for _ in range(4):
        assert refused("xiaodou", "wrong password", T0).reason == "invalid"
    assert accounts.log_in("xiaodou", PASSWORD, now=T0).agent == xiaodou


def test_unknown_names_lock_too_and_the_limit_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CS_AGENT_LOCK_FAILURES", "2")
    monkeypatch.setenv("CS_AGENT_LOCK_MINUTES", "1")
    assert refused("ghost", "password1", T0).reason == "invalid"
    assert refused("ghost", "password1", T0).reason == "invalid"
    assert (refused("ghost", "password1", T0).reason, refused("ghost", "x", T0).retry_after) == ("locked", 60)


def test_expired_session_is_none(xiaodou: accounts.Agent) -> None:
    session = accounts.log_in("xiaodou", PASSWORD, now=T0)
    assert accounts.session_agent(session.token, now=T0 + timedelta(hours=7, minutes=59)) == xiaodou
    assert accounts.session_agent(session.token, now=T0 + timedelta(hours=9)) is None


def test_session_hours_setting(xiaodou: accounts.Agent, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CS_AGENT_SESSION_HOURS", "1")
    session = accounts.log_in("xiaodou", PASSWORD, now=T0)
    assert session.expires_at == T0 + timedelta(hours=1)
    assert accounts.session_agent(session.token, now=T0 + timedelta(minutes=61)) is None


def test_log_out_revokes(xiaodou: accounts.Agent) -> None:
    kept = accounts.log_in("xiaodou", PASSWORD, now=T0)
    gone = accounts.log_in("xiaodou", PASSWORD, now=T0)
    accounts.log_out(gone.token)
    assert accounts.session_agent(gone.token, now=T0) is None
    assert accounts.session_agent(kept.token, now=T0) == xiaodou
    accounts.log_out("no such token")  # ignored


def test_disable_revokes_and_refuses_log_in(xiaodou: accounts.Agent) -> None:
    session = accounts.log_in("xiaodou", PASSWORD, now=T0)
    disabled = accounts.disable_agent("xiaodou")
    assert disabled.active is False
    assert accounts.session_agent(session.token, now=T0) is None
    assert refused("xiaodou", PASSWORD, T0).reason == "invalid"

    assert accounts.enable_agent("xiaodou").active is True
    assert accounts.session_agent(session.token, now=T0) is None  # not revived
    assert accounts.session_agent(accounts.log_in("xiaodou", PASSWORD, now=T0).token, now=T0) == xiaodou
    with pytest.raises(accounts.AccountError, match="no agent"):
        accounts.disable_agent("nobody")


def test_set_password_revokes_sessions(xiaodou: accounts.Agent) -> None:
    session = accounts.log_in("xiaodou", PASSWORD, now=T0)
    accounts.set_password("xiaodou", "a new secret")
    assert accounts.session_agent(session.token, now=T0) is None
    assert refused("xiaodou", PASSWORD, T0).reason == "invalid"
    assert accounts.log_in("xiaodou", "a new secret", now=T0).agent == xiaodou
    with pytest.raises(accounts.AccountError):
        accounts.set_password("xiaodou", "short")


def test_password_is_stored_as_an_argon2id_hash(xiaodou: accounts.Agent) -> None:
    stored = stored_agent_row("xiaodou").password_hash
    assert stored != PASSWORD
    assert PASSWORD not in stored
    assert stored.startswith("$argon2id$")
    assert PasswordHasher().verify(stored, PASSWORD) is True


def test_weak_hash_is_rehashed_on_log_in() -> None:
    accounts.create_agent("xiaodou", "小抖", PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with schema.engine().begin() as connection:
        connection.execute(schema.agents.update().values(password_hash=weak))
    accounts.log_in("xiaodou", PASSWORD, now=T0)
    stored = stored_agent_row("xiaodou").password_hash
    assert stored != weak
    assert PasswordHasher().check_needs_rehash(stored) is False


def test_online_agents_by_last_seen(xiaodou: accounts.Agent) -> None:
    amy = accounts.create_agent("amy", "Amy", PASSWORD)
    accounts.create_agent("bob", "Bob", PASSWORD)  # never logged in
    first = accounts.log_in("xiaodou", PASSWORD, now=T0)
    accounts.log_in("xiaodou", PASSWORD, now=T0)  # a second tab: still listed once
    amy_session = accounts.log_in("amy", PASSWORD, now=T0)

    assert [agent.username for agent in accounts.online_agents(now=T0 + timedelta(seconds=30))] == [
        "amy",
        "xiaodou",
    ]
    later = T0 + timedelta(minutes=10)
    assert accounts.online_agents(now=later) == []
    accounts.touch(first.token, now=later - timedelta(seconds=20))
    assert accounts.online_agents(now=later) == [xiaodou]
    assert accounts.online_agents(now=later + timedelta(seconds=71)) == []

    accounts.touch(amy_session.token, now=later)
    accounts.log_out(amy_session.token)
    accounts.touch(amy_session.token, now=later)  # a revoked session is not brought back
    assert accounts.online_agents(now=later) == [xiaodou]
    accounts.disable_agent("xiaodou")
    assert accounts.online_agents(now=later) == []
    assert amy.username == "amy"


@pytest.mark.parametrize(
    "token", ["", " ", "x", "not-a-token", "é" * 10, "\x00", "a" * 10_000, None, 42, b"x"]
)
def test_garbage_tokens_give_none(xiaodou: accounts.Agent, token) -> None:
    accounts.log_in("xiaodou", PASSWORD, now=T0)
    assert accounts.session_agent(token, now=T0) is None
    accounts.touch(token, now=T0)
    accounts.log_out(token)


@pytest.mark.parametrize("username", ["", "a", "-abc", "_abc", "has space", "x" * 33, "名字", "a/b", "a\nb"])
def test_bad_user_names(username: str) -> None:
    with pytest.raises(accounts.AccountError, match="user name"):
        accounts.create_agent(username, "小抖", PASSWORD)
    assert accounts.list_agents() == []


@pytest.mark.parametrize("display_name", ["", "   ", "x" * 33, "小\x00抖", "a\nb", "abc\u202edef", "a\tb"])
def test_bad_display_names(display_name: str) -> None:
    with pytest.raises(accounts.AccountError, match="display name"):
        accounts.create_agent("xiaodou", display_name, PASSWORD)
    assert accounts.list_agents() == []


@pytest.mark.parametrize("password", ["", "1234567", "x" * 1025])
def test_bad_passwords(password: str) -> None:
    with pytest.raises(accounts.AccountError, match="password"):
        accounts.create_agent("xiaodou", "小抖", password)
    assert accounts.list_agents() == []


def test_good_names_are_accepted() -> None:
    assert accounts.create_agent("a1", "x" * 32, "12345678").display_name == "x" * 32
    assert accounts.create_agent("z" * 32, "客服 小抖 😀", PASSWORD).username == "z" * 32
    assert accounts.create_agent("x_y.z-1", "Ω", PASSWORD).username == "x_y.z-1"


def test_duplicate_agent(xiaodou: accounts.Agent) -> None:
    with pytest.raises(accounts.AccountError, match="already exists"):
        accounts.create_agent("xiaodou", "另一个", PASSWORD)
    assert accounts.find_agent("xiaodou").display_name == "小抖"


def test_roles(xiaodou: accounts.Agent) -> None:
    from agents import roles

    assert xiaodou.role == "agent" and not roles.is_supervisor(xiaodou)
    boss = accounts.create_agent("lin", "林主管", PASSWORD, role="Supervisor")
    assert boss.role == "supervisor" and roles.is_supervisor(boss)
    assert accounts.log_in("lin", PASSWORD, now=T0).agent.role == "supervisor"
    roles.require_role(boss, roles.SUPERVISOR)
    roles.require_role(boss, roles.AGENT)  # a supervisor is an agent too
    with pytest.raises(roles.RoleRequired) as refused:
        roles.require_role(xiaodou, roles.SUPERVISOR)
    assert refused.value.status == 403
    assert accounts.set_role("xiaodou", "supervisor").role == "supervisor"
    assert accounts.set_role("lin", "agent").role == "agent"
    for bad in ("admin", "", None):
        with pytest.raises(accounts.AccountError, match="role"):
            accounts.set_role("xiaodou", bad)


def test_a_database_made_before_roles_gets_the_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An earlier version's agents table, without `role`: its agents keep working, as agents."""
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    with create_engine(url).begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE agents (id INTEGER PRIMARY KEY AUTOINCREMENT, username VARCHAR(32) NOT NULL "
                "UNIQUE, display_name VARCHAR(32) NOT NULL, password_hash VARCHAR(255) NOT NULL, "
                "active BOOLEAN NOT NULL, max_chats INTEGER, created_at DATETIME NOT NULL)"
            )
        )
        connection.execute(
            text("INSERT INTO agents VALUES (1, 'old', '老员工', :h, 1, NULL, '2026-01-01 00:00:00')"),
            {"h": PasswordHasher().hash(PASSWORD)},
        )
    monkeypatch.setenv("CS_DATABASE_URL", url)
    assert accounts.log_in("old", PASSWORD, now=T0).agent.role == "agent"
    assert accounts.set_role("old", "supervisor").role == "supervisor"
    assert migrations.ensure_current(url) is None  # again (another process): already current


def test_concurrent_log_ins_from_threads(xiaodou: accounts.Agent) -> None:
    """Async callers run log_in in threads: concurrent attempts all count and sessions stay distinct."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        sessions = list(pool.map(lambda _: accounts.log_in("xiaodou", PASSWORD, now=T0), range(4)))
        assert len({session.token for session in sessions}) == 4
        assert all(accounts.session_agent(session.token, now=T0) == xiaodou for session in sessions)

        def wrong(_: int) -> str:
            return refused("xiaodou", "wrong password", T0).reason

        reasons = list(pool.map(wrong, range(8)))
    assert reasons.count("invalid") == 5
    assert set(reasons) <= {"invalid", "locked"}
    assert refused("xiaodou", PASSWORD, T0).reason == "locked"


def test_thirty_attempts_at_once_check_at_most_the_limit(
    xiaodou: accounts.Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count comes before the check, in one statement: 30 threads, 5 argon2 verifications."""
    checks: List[str] = []
    verify = accounts._verify

    def counted(password_hash: str, password: str) -> bool:
        checks.append(password)
        return verify(password_hash, password)

    monkeypatch.setattr(accounts, "_verify", counted)
    with ThreadPoolExecutor(max_workers=30) as pool:
        reasons = list(pool.map(lambda n: refused("xiaodou", f"wrong {n}", T0).reason, range(30)))
    assert len(checks) == 5 and reasons.count("invalid") == 5 and reasons.count("locked") == 25
    # The right password among the first five attempts still logs in (and clears the count).
    accounts.set_password("xiaodou", PASSWORD)  # lifts the lock
    with ThreadPoolExecutor(max_workers=5) as pool:
        tries = [PASSWORD if n == 2 else f"wrong {n}" for n in range(5)]
        outcomes = list(pool.map(lambda p: _outcome("xiaodou", p), tries))
    assert outcomes.count("ok") == 1 and outcomes.count("invalid") == 4


def _outcome(username: str, password: str) -> str:
    try:
        accounts.log_in(username, password, now=T0)
    except accounts.LoginRefused as refusal:
        return refusal.reason
    return "ok"


# --- the command line --------------------------------------------------------------------------------


def cli(database: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "CS_DATABASE_URL": database, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "agents.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


def test_cli(database: str) -> None:
    added = cli(
        database,
        "add",
        "XiaoDou",
        "--name",
        "小抖",
        "--max-chats",
        "2",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert "xiaodou" in added.stdout
    assert cli(database, "add", "amy", "--name", "Amy", "--password-stdin", stdin=PASSWORD).returncode == 0
    # The CLI wrote to the same database: the password from stdin (without its newline) logs in.
    session = accounts.log_in("xiaodou", PASSWORD)
    assert accounts.find_agent("xiaodou").max_chats == 2

    listed = cli(database, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["username", "display", "name", "role", "active", "max", "chats", "online"]
    assert lines[1].split() == ["amy", "Amy", "agent", "yes", "3", "no"]
    assert lines[2].split() == ["xiaodou", "小抖", "agent", "yes", "2", "yes"]

    duplicate = cli(database, "add", "xiaodou", "--name", "又一个", "--password-stdin", stdin=PASSWORD)
    assert duplicate.returncode == 1
    assert duplicate.stderr.strip() == "error: agent 'xiaodou' already exists"
    assert "Traceback" not in duplicate.stderr

    disabled = cli(database, "disable", "xiaodou")
    assert disabled.returncode == 0, disabled.stderr
    assert accounts.session_agent(session.token) is None
    assert cli(database, "list").stdout.splitlines()[2].split() == [
        "xiaodou",
        "小抖",
        "agent",
        "no",
        "2",
        "no",
    ]

    assert cli(database, "max-chats", "amy", "6").returncode == 0
    assert accounts.find_agent("amy").max_chats == 6
    assert cli(database, "passwd", "amy", "--password-stdin", stdin="another password\n").returncode == 0
    assert accounts.log_in("amy", "another password").agent.username == "amy"

    # Roles: given when the account is made, changed later, shown by list.
    boss = ["add", "lin", "--name", "林主管", "--role", "supervisor", "--password-stdin"]
    assert cli(database, *boss, stdin=PASSWORD).returncode == 0
    assert accounts.find_agent("lin").role == "supervisor"
    changed = cli(database, "role", "amy", "supervisor")
    assert changed.returncode == 0 and "supervisor" in changed.stdout
    assert cli(database, "role", "lin", "agent").returncode == 0
    rows = {line.split()[0]: line.split()[2] for line in cli(database, "list").stdout.splitlines()[1:]}
    assert rows == {"amy": "supervisor", "lin": "agent", "xiaodou": "agent"}


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["add", "A B", "--name", "x", "--password-stdin"], PASSWORD, "invalid user name"),
        (["add", "amy", "--name", "x", "--password-stdin"], "short\n", "at least 8 characters"),
        (["add", "amy", "--name", "x", "--password-stdin"], "", "no password"),
        (["disable", "nobody"], "", "no agent named 'nobody'"),
        (["max-chats", "nobody", "3"], "", "no agent named 'nobody'"),
        (
            ["add", "amy", "--name", "x", "--role", "boss", "--password-stdin"],
            PASSWORD,
            "invalid role 'boss'",
        ),
        (["role", "nobody", "supervisor"], "", "no agent named 'nobody'"),
    ],
)
def test_cli_errors_are_one_line(database: str, args: List[str], stdin: str, message: str) -> None:
    result = cli(database, *args, stdin=stdin)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert accounts.list_agents() == []


@pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not installed")
def test_on_postgresql_old_tables_get_roles_and_thirty_attempts_get_five_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same on PostgreSQL, where the count's conditional UPDATE waits for the row's lock and then
    checks `failures < limit` again."""
    from sqlalchemy import create_engine, text

    server = postgres.TempPostgres().init()
    try:
        with create_engine(server.url).begin() as connection:  # an agents table made before roles
            connection.execute(
                text(
                    "CREATE TABLE agents (id SERIAL PRIMARY KEY, username VARCHAR(32) NOT NULL UNIQUE, "
                    "display_name VARCHAR(32) NOT NULL, password_hash VARCHAR(255) NOT NULL, "
                    "active BOOLEAN NOT NULL, max_chats INTEGER, created_at TIMESTAMP NOT NULL)"
                )
            )
            connection.execute(
                text("INSERT INTO agents (username, display_name, password_hash, active, created_at) "
                     "VALUES ('old', '老员工', :h, true, '2026-01-01')"),
                {"h": PasswordHasher().hash(PASSWORD)},
            )  # fmt: skip
        monkeypatch.setenv("CS_DATABASE_URL", server.url)
        assert accounts.log_in("old", PASSWORD, now=T0).agent.role == "agent"

        checks: List[str] = []
        verify = accounts._verify
        monkeypatch.setattr(accounts, "_verify", lambda h, p: checks.append(p) or verify(h, p))
        with ThreadPoolExecutor(max_workers=30) as pool:
            reasons = list(pool.map(lambda n: refused("old", f"wrong {n}", T0).reason, range(30)))
        assert len(checks) == 5 and reasons.count("locked") == 25
    finally:
        schema.engine().dispose()
        server.destroy()
