"""Human agents' accounts and log-in sessions, in the service database (agents/schema.py).

Passwords are kept only as argon2id hashes; a session is a random bearer token of which only the
sha256 is stored, so a copy of the database lets nobody log in. Repeated wrong passwords lock a user
name for a while (CS_AGENT_LOCK_FAILURES in a row, CS_AGENT_LOCK_MINUTES), whether or not the name
exists, so neither the answer nor the lock tells which names are agents. A log-in attempt is counted
before its password is checked, in one conditional UPDATE: however many arrive at once, no more than
CS_AGENT_LOCK_FAILURES passwords are checked for a name until the lock runs out or one is right.

Ending an agent's sessions (log-out, disabled, new password) writes a `session_ended` console event in
the same transaction, so their open event streams close within a second (agents/live.py).

Checking a password costs tens of milliseconds of CPU on purpose (argon2): async callers run `log_in`,
`create_agent` and `set_password` in a thread (`await asyncio.to_thread(accounts.log_in, ...)`). The
module is thread-safe: it keeps no mutable state besides the engine, and every write is one transaction.

Times are UTC: `now` parameters (there so tests can move time) take aware datetimes (naive ones are
read as UTC); the database holds naive UTC as in core/store.py.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, List, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, false, insert, select, true, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from agents import live, schema
from agents.roles import AGENT, ROLES
from agents.schema import agent_sessions, agents, login_failures

logger = logging.getLogger(__name__)

MAX_CHATS_VARIABLE = "CS_AGENT_MAX_CHATS"
LOCK_FAILURES_VARIABLE = "CS_AGENT_LOCK_FAILURES"
LOCK_MINUTES_VARIABLE = "CS_AGENT_LOCK_MINUTES"
SESSION_HOURS_VARIABLE = "CS_AGENT_SESSION_HOURS"
DEFAULT_MAX_CHATS = 3
DEFAULT_LOCK_FAILURES = 5
DEFAULT_LOCK_MINUTES = 5
DEFAULT_SESSION_HOURS = 8

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{1,31}")
DISPLAY_NAME_CHARS = 32
MIN_PASSWORD_CHARS = 8
# Longer passwords are refused: hashing megabytes on every log-in attempt would be a cheap way to load
# the server.
MAX_PASSWORD_CHARS = 1024
MAX_CHATS_LIMIT = 100
# A real token is 43 characters; anything much longer is not worth hashing.
MAX_TOKEN_CHARS = 256

# Default parameters (argon2id); stateless, so one instance serves every thread.
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Agent:
    id: int
    username: str
    display_name: str
    active: bool
    max_chats: int  # resolved: the agent's own limit, else CS_AGENT_MAX_CHATS (default 3)
    role: str = AGENT  # agent | supervisor (agents/roles.py)


@dataclass(frozen=True)
class Session:
    token: str  # the bearer token; only its sha256 is stored, so this is the one chance to read it
    agent: Agent
    expires_at: datetime  # aware UTC


class AccountError(ValueError):
    """A bad user name, display name or password, or an unknown or duplicate agent: the message says
    which, for the administrator who typed it."""


class LoginRefused(Exception):
    """Log-in refused. `reason` is "invalid" (unknown user, disabled agent or wrong password: the same
    answer for all three, so it does not reveal which names exist) or "locked" (too many failures in a
    row; `retry_after` seconds until the next try is considered, 0 when not locked)."""

    def __init__(self, reason: str, retry_after: int = 0) -> None:
        self.reason = reason
        self.retry_after = retry_after
        if reason == "locked":
            message = f"too many failed log-ins; try again in {retry_after} s"
        else:
            message = "invalid user name or password"
        super().__init__(message)


# --- configuration -----------------------------------------------------------------------------------


def _env_int(name: str, default: int, minimum: int) -> int:
    """A positive setting from the environment, read at each call so a changed value applies at once;
    an unusable value falls back to the default (logged) rather than failing every request."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        logger.warning("%s=%r is not a whole number >= %d; using %d", name, raw, minimum, default)
        return default
    return value


def _default_max_chats() -> int:
    """The open-chat limit of agents without their own (CS_AGENT_MAX_CHATS, default 3)."""
    return _env_int(MAX_CHATS_VARIABLE, DEFAULT_MAX_CHATS, 1)


# --- validation --------------------------------------------------------------------------------------


def _normal_username(username: str) -> str:
    return username.strip().lower()


def _checked_username(username: str) -> str:
    if not isinstance(username, str):
        raise AccountError("user name must be text")
    name = _normal_username(username)
    if not USERNAME_PATTERN.fullmatch(name):
        raise AccountError(
            f"invalid user name {username!r}: 2-32 characters of a-z, 0-9, '_', '.', '-', "
            "starting with a letter or digit"
        )
    return name


def _checked_display_name(display_name: str) -> str:
    if not isinstance(display_name, str):
        raise AccountError("display name must be text")
    name = display_name.strip()
    if not 1 <= len(name) <= DISPLAY_NAME_CHARS:
        raise AccountError(f"display name must be 1-{DISPLAY_NAME_CHARS} characters")
    # Control, invisible format (e.g. right-to-left overrides), private-use and unassigned characters,
    # and line breaks: the name is shown to users as "人工客服{name}".
    for char in name:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            raise AccountError(f"display name must not contain control characters (U+{ord(char):04X})")
    return name


def _checked_password(password: str) -> str:
    if not isinstance(password, str):
        raise AccountError("password must be text")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"password must be at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"password must be at most {MAX_PASSWORD_CHARS} characters")
    return password


def _checked_role(role: str) -> str:
    name = role.strip().lower() if isinstance(role, str) else ""
    if name not in ROLES:
        raise AccountError(f"invalid role {role!r}: one of {', '.join(ROLES)}")
    return name


def _checked_max_chats(max_chats: Optional[int]) -> Optional[int]:
    if max_chats is None:
        return None
    if isinstance(max_chats, bool) or not isinstance(max_chats, int):
        raise AccountError("max chats must be a whole number")
    if not 1 <= max_chats <= MAX_CHATS_LIMIT:
        raise AccountError(f"max chats must be between 1 and {MAX_CHATS_LIMIT}")
    return max_chats


# --- helpers -----------------------------------------------------------------------------------------


def _stored_time(now: Optional[datetime]) -> datetime:
    """Naive UTC, as stored; a naive `now` is taken as UTC already."""
    if now is None:
        return datetime.now(timezone.utc).replace(tzinfo=None)
    if now.tzinfo is None:
        return now
    return now.astimezone(timezone.utc).replace(tzinfo=None)


def _token_hash(token: Any) -> Optional[str]:
    """The stored form of a token, or None for anything that cannot be one (empty, huge, not text)."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        data = token.encode("ascii")
    except UnicodeEncodeError:
        return None
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify against when the user is unknown, so the answer takes as long as for a real one
    (made on first need with the same parameters as real hashes; lru_cache is thread-safe)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _agent(row: Row) -> Agent:
    return Agent(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        active=bool(row.active),
        max_chats=row.max_chats if row.max_chats is not None else _default_max_chats(),
        role=row.role if row.role in ROLES else AGENT,
    )


_AGENT_COLUMNS = (
    agents.c.id,
    agents.c.username,
    agents.c.display_name,
    agents.c.active,
    agents.c.max_chats,
    agents.c.role,
)


def _agent_row(connection: Connection, username: str) -> Optional[Row]:
    return connection.execute(select(*_AGENT_COLUMNS).where(agents.c.username == username)).first()


def _existing(connection: Connection, username: str) -> Row:
    row = _agent_row(connection, username)
    if row is None:
        raise AccountError(f"no agent named {username!r}")
    return row


def _revoke_sessions(connection: Connection, agent_id: int, username: str) -> None:
    """Ends every session of the agent, and tells their open streams (in the same transaction)."""
    connection.execute(
        update(agent_sessions)
        .where(agent_sessions.c.agent_id == agent_id, agent_sessions.c.revoked == false())
        .values(revoked=True)
    )
    live.record(connection, "", live.SESSION_ENDED, username)


# --- administration ----------------------------------------------------------------------------------


def create_agent(
    username: str, display_name: str, password: str, max_chats: Optional[int] = None, role: str = AGENT
) -> Agent:
    """Adds an active agent (role `agent` or `supervisor`). The user name is lower-cased; hashing the
    password is CPU-heavy (run it in a thread from async code)."""
    name = _checked_username(username)
    display = _checked_display_name(display_name)
    _checked_password(password)
    limit = _checked_max_chats(max_chats)
    role = _checked_role(role)
    password_hash = _hasher.hash(password)  # before the transaction: no lock held while hashing
    try:
        with schema.engine().begin() as connection:
            if _agent_row(connection, name) is not None:
                raise AccountError(f"agent {name!r} already exists")
            connection.execute(
                insert(agents).values(
                    username=name,
                    display_name=display,
                    password_hash=password_hash,
                    active=True,
                    max_chats=limit,
                    created_at=_stored_time(None),
                    role=role,
                )
            )
            return _agent(_existing(connection, name))
    except IntegrityError as error:  # added at the same moment by someone else
        raise AccountError(f"agent {name!r} already exists") from error


def _set_active(username: str, active: bool) -> Agent:
    name = _checked_username(username)
    with schema.engine().begin() as connection:
        row = _existing(connection, name)
        connection.execute(update(agents).where(agents.c.id == row.id).values(active=active))
        if not active:
            _revoke_sessions(connection, row.id, name)
        agent = _agent(_existing(connection, name))
    live.wake_streams()
    return agent


def disable_agent(username: str) -> Agent:
    """Stops an agent from working: refuses their log-ins and ends their sessions at once. The row stays,
    so their past actions and ratings still name them."""
    return _set_active(username, False)


def enable_agent(username: str) -> Agent:
    """Lets a disabled agent log in again (no session is revived)."""
    return _set_active(username, True)


def set_password(username: str, password: str) -> None:
    """Replaces an agent's password, ends their sessions (whoever knew the old one is out) and lifts a
    log-in lock on the name (the administrator has just given them a password that works). CPU-heavy."""
    name = _checked_username(username)
    _checked_password(password)
    password_hash = _hasher.hash(password)
    with schema.engine().begin() as connection:
        row = _existing(connection, name)
        connection.execute(update(agents).where(agents.c.id == row.id).values(password_hash=password_hash))
        _revoke_sessions(connection, row.id, name)
        connection.execute(delete(login_failures).where(login_failures.c.username == name))
    live.wake_streams()


def set_max_chats(username: str, max_chats: Optional[int]) -> Agent:
    """Sets how many chats the agent may have open at once (1-100); None returns them to the default."""
    name = _checked_username(username)
    limit = _checked_max_chats(max_chats)
    with schema.engine().begin() as connection:
        row = _existing(connection, name)
        connection.execute(update(agents).where(agents.c.id == row.id).values(max_chats=limit))
        return _agent(_existing(connection, name))


def set_role(username: str, role: str) -> Agent:
    """Makes the account an `agent` or a `supervisor`; it applies to the agent's next request."""
    name = _checked_username(username)
    role = _checked_role(role)
    with schema.engine().begin() as connection:
        row = _existing(connection, name)
        connection.execute(update(agents).where(agents.c.id == row.id).values(role=role))
        return _agent(_existing(connection, name))


def find_agent(username: str) -> Optional[Agent]:
    """The agent of that user name (any case), active or not; None when there is none."""
    if not isinstance(username, str):
        return None
    with schema.engine().connect() as connection:
        row = _agent_row(connection, _normal_username(username))
    return _agent(row) if row is not None else None


def agent_by_id(agent_id: int) -> Optional[Agent]:
    """The agent with that id, active or not; None when there is none."""
    with schema.engine().connect() as connection:
        row = connection.execute(select(*_AGENT_COLUMNS).where(agents.c.id == agent_id)).first()
    return _agent(row) if row is not None else None


def list_agents() -> List[Agent]:
    """Every agent, disabled ones too, by user name."""
    with schema.engine().connect() as connection:
        rows = connection.execute(select(*_AGENT_COLUMNS).order_by(agents.c.username)).all()
    return [_agent(row) for row in rows]


# --- log-in ------------------------------------------------------------------------------------------


def _seconds_until(locked_until: Optional[datetime], now: datetime) -> int:
    if locked_until is None or locked_until <= now:
        return 0
    return max(1, math.ceil((locked_until - now).total_seconds()))


def _admit(username: str, now: datetime) -> int:
    """Counts a log-in attempt for the name before its password is checked: 0 when it may be checked,
    else the seconds the name stays locked.

    `failures` counts the attempts since the last success (the checks still running included); the one
    that reaches CS_AGENT_LOCK_FAILURES starts the lock, and further attempts are refused without a
    check until it runs out (then the count starts again). The count is one conditional UPDATE, the
    first statement of its transaction: on SQLite it takes the write lock, on PostgreSQL the row's lock
    (its WHERE is evaluated again after a wait), so concurrent attempts take turns and never more than
    the limit are admitted."""
    limit = _env_int(LOCK_FAILURES_VARIABLE, DEFAULT_LOCK_FAILURES, 1)
    until = now + timedelta(minutes=_env_int(LOCK_MINUTES_VARIABLE, DEFAULT_LOCK_MINUTES, 1))
    row = login_failures.c
    for attempt in range(2):
        try:
            with schema.engine().begin() as connection:
                connection.execute(
                    update(login_failures)
                    .where(row.username == username, row.locked_until <= now)
                    .values(failures=0, locked_until=None)
                )
                admitted = connection.execute(
                    update(login_failures)
                    .where(row.username == username, row.failures < limit)
                    .values(failures=row.failures + 1, last_failure=now)
                ).rowcount
                if admitted:
                    connection.execute(
                        update(login_failures)
                        .where(row.username == username, row.failures >= limit, row.locked_until.is_(None))
                        .values(locked_until=until)
                    )
                    return 0
                current = connection.execute(select(row.locked_until).where(row.username == username)).first()
                if current is None:  # the name's first attempt
                    connection.execute(
                        insert(login_failures).values(
                            username=username,
                            failures=1,
                            last_failure=now,
                            locked_until=until if limit <= 1 else None,
                        )
                    )
                    return 0
                if current.locked_until is None:  # at the limit without a lock (the limit was lowered)
                    connection.execute(
                        update(login_failures).where(row.username == username).values(locked_until=until)
                    )
                    return _seconds_until(until, now)
                return _seconds_until(current.locked_until, now)
        except IntegrityError:  # another attempt inserted the row first: count on it
            if attempt:
                raise
    raise AssertionError("unreachable")


def log_in(username: str, password: str, now: Optional[datetime] = None) -> Session:
    """A new session for the agent whose password this is; raises LoginRefused otherwise. CPU-heavy
    (argon2): async callers run it in a thread. Unknown names are checked against a dummy hash, so the
    time taken does not tell whether a name exists, and they count towards the lock like real ones.
    A locked name is refused before any check. Every check is logged (a warning when it fails)."""
    moment = _stored_time(now)
    name = _normal_username(username) if isinstance(username, str) else ""
    known_form = bool(USERNAME_PATTERN.fullmatch(name))
    usable_password = isinstance(password, str) and len(password) <= MAX_PASSWORD_CHARS

    row = None
    if known_form:
        wait = _admit(name, moment)
        if wait:
            raise LoginRefused("locked", wait)
        with schema.engine().connect() as connection:
            row = connection.execute(
                select(agents.c.id, agents.c.password_hash, agents.c.active).where(agents.c.username == name)
            ).first()

    # Always one argon2 verification once admitted, whatever the outcome, so that every refusal takes
    # as long.
    stored_hash = row.password_hash if row is not None else _dummy_hash()
    matches = _verify(stored_hash, password if usable_password else "") and usable_password
    if row is None or not row.active or not matches:
        logger.warning("Log-in refused for %r: password checked, no match for an active agent", name[:32])
        raise LoginRefused("invalid")
    logger.info("Log-in of %r: password checked", name)

    new_hash = _hasher.hash(password) if _hasher.check_needs_rehash(stored_hash) else None
    token = secrets.token_urlsafe(32)
    hours = _env_int(SESSION_HOURS_VARIABLE, DEFAULT_SESSION_HOURS, 1)
    expires = moment + timedelta(hours=hours)
    with schema.engine().begin() as connection:
        # Checked again inside the transaction: disabled or given a new password meanwhile. (A lock
        # started meanwhile by other attempts does not apply: this one was admitted before it.)
        current = connection.execute(
            select(agents.c.password_hash, agents.c.active).where(agents.c.id == row.id)
        ).first()
        if current is None or not current.active or current.password_hash != stored_hash:
            raise LoginRefused("invalid")
        if new_hash is not None:
            connection.execute(update(agents).where(agents.c.id == row.id).values(password_hash=new_hash))
        connection.execute(delete(login_failures).where(login_failures.c.username == name))
        connection.execute(
            insert(agent_sessions).values(
                token_hash=_token_hash(token),
                agent_id=row.id,
                created_at=moment,
                expires_at=expires,
                last_seen=moment,
                revoked=False,
            )
        )
        agent = _agent(connection.execute(select(*_AGENT_COLUMNS).where(agents.c.id == row.id)).one())
    return Session(token=token, agent=agent, expires_at=expires.replace(tzinfo=timezone.utc))


def _live_session(token_hash: str, moment: datetime):
    """The conditions of a session that still counts: not logged out, not expired, agent active."""
    return (
        agent_sessions.c.token_hash == token_hash,
        agent_sessions.c.revoked == false(),
        agent_sessions.c.expires_at > moment,
    )


def session_agent(token: str, now: Optional[datetime] = None) -> Optional[Agent]:
    """Who is behind a bearer token: the agent of a live session (not logged out, not expired, agent
    still active), else None. Any token, however malformed, gives None rather than an exception."""
    token_hash = _token_hash(token)
    if token_hash is None:
        return None
    moment = _stored_time(now)
    with schema.engine().connect() as connection:
        row = connection.execute(
            select(*_AGENT_COLUMNS)
            .select_from(agent_sessions.join(agents, agents.c.id == agent_sessions.c.agent_id))
            .where(*_live_session(token_hash, moment), agents.c.active == true())
        ).first()
    return _agent(row) if row is not None else None


def touch(token: str, now: Optional[datetime] = None) -> None:
    """Marks the session as seen now: the console's live stream calls it every ~20 s, which is what makes
    the agent "online". A dead or unknown token is ignored."""
    token_hash = _token_hash(token)
    if token_hash is None:
        return
    moment = _stored_time(now)
    with schema.engine().begin() as connection:
        connection.execute(
            update(agent_sessions).where(*_live_session(token_hash, moment)).values(last_seen=moment)
        )


def log_out(token: str) -> None:
    """Ends the session for good (the token never works again) and closes its event streams. An unknown
    token is ignored."""
    token_hash = _token_hash(token)
    if token_hash is None:
        return
    with schema.engine().begin() as connection:
        ended = connection.execute(
            update(agent_sessions)
            .where(agent_sessions.c.token_hash == token_hash, agent_sessions.c.revoked == false())
            .values(revoked=True)
        ).rowcount
        username = connection.execute(
            select(agents.c.username)
            .select_from(agent_sessions.join(agents, agents.c.id == agent_sessions.c.agent_id))
            .where(agent_sessions.c.token_hash == token_hash)
        ).scalar()
        if ended and username:
            live.record(connection, "", live.SESSION_ENDED, username)
    if ended:
        live.wake_streams()


def online_agents(now: Optional[datetime] = None) -> List[Agent]:
    """Active agents with a live session seen in the last ONLINE_SECONDS, each once, by user name: who
    can be given a conversation right now."""
    moment = _stored_time(now)
    seen_since = moment - timedelta(seconds=schema.ONLINE_SECONDS)
    with schema.engine().connect() as connection:
        rows = connection.execute(
            select(*_AGENT_COLUMNS)
            .where(
                agents.c.active == true(),
                agents.c.id.in_(
                    select(agent_sessions.c.agent_id).where(
                        agent_sessions.c.revoked == false(),
                        agent_sessions.c.expires_at > moment,
                        agent_sessions.c.last_seen >= seen_since,
                    )
                ),
            )
            .order_by(agents.c.username)
        ).all()
    return [_agent(row) for row in rows]
