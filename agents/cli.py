"""Manage the human agents' accounts from a terminal: python -m agents.cli add|disable|enable|passwd|
max-chats|role|list (make agent-add, agent-disable, agent-role, agent-list).

Works on the service database named by CS_DATABASE_URL (var/service.db by default). Passwords are read
without echo, twice, or with --password-stdin from the first line of standard input (scripts, CI), never
from the command line, where other users could read them in the process list. Errors are one line on
stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import unicodedata
from typing import Callable, List, Optional, Sequence

from sqlalchemy.exc import SQLAlchemyError

from agents import accounts
from agents.roles import AGENT, ROLES


class _Refused(Exception):
    """A one-line reason to stop (exit 1), raised by the commands below."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
        if not password:
            raise _Refused("no password on standard input")
        return password
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise _Refused("the passwords do not match")
    return first


def _max_chats(value: str) -> Optional[int]:
    """N, or "default" for the CS_AGENT_MAX_CHATS default."""
    if value.strip().lower() == "default":
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None


def _describe(agent: accounts.Agent) -> str:
    state = "active" if agent.active else "disabled"
    return f"{agent.username} ({agent.display_name}), {agent.role}, {state}, max chats {agent.max_chats}"


def _add(args: argparse.Namespace) -> None:
    # Checked before the password is asked for, so a typo in the name does not cost two prompts.
    accounts._checked_username(args.username)
    accounts._checked_display_name(args.name)
    accounts._checked_role(args.role)
    if accounts.find_agent(args.username) is not None:
        raise accounts.AccountError(f"agent {args.username.strip().lower()!r} already exists")
    password = _read_password(args.password_stdin)
    agent = accounts.create_agent(args.username, args.name, password, args.max_chats, args.role)
    print(f"added {_describe(agent)}")


def _disable(args: argparse.Namespace) -> None:
    print(f"disabled {_describe(accounts.disable_agent(args.username))}; their sessions are ended")


def _enable(args: argparse.Namespace) -> None:
    print(f"enabled {_describe(accounts.enable_agent(args.username))}")


def _passwd(args: argparse.Namespace) -> None:
    if accounts.find_agent(args.username) is None:
        raise accounts.AccountError(f"no agent named {args.username.strip().lower()!r}")
    accounts.set_password(args.username, _read_password(args.password_stdin))
    print(f"password of {args.username.strip().lower()} changed; their sessions are ended")


def _set_max_chats(args: argparse.Namespace) -> None:
    print(f"set {_describe(accounts.set_max_chats(args.username, args.n))}")


def _set_role(args: argparse.Namespace) -> None:
    print(f"set {_describe(accounts.set_role(args.username, args.role))}")


def _width(text: str) -> int:
    """Terminal columns: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def _table(rows: List[List[str]]) -> str:
    widths = [max(_width(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell + " " * (width - _width(cell)) for cell, width in zip(row, widths)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _list(args: argparse.Namespace) -> None:
    agents = accounts.list_agents()
    if not agents:
        print("no agents yet (add one: python -m agents.cli add USERNAME --name DISPLAY)")
        return
    online = {agent.id for agent in accounts.online_agents()}
    rows = [["username", "display name", "role", "active", "max chats", "online"]]
    for agent in agents:
        rows.append(
            [
                agent.username,
                agent.display_name,
                agent.role,
                "yes" if agent.active else "no",
                str(agent.max_chats),
                "yes" if agent.id in online else "no",
            ]
        )
    print(_table(rows))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.cli", description="Manage human agents' accounts."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[argparse.Namespace], None], help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    stdin_help = "read the password from the first line of standard input instead of prompting"
    add = command("add", _add, "add an agent (asks for the password twice)")
    add.add_argument("username", metavar="USERNAME", help="log-in name: a-z 0-9 _ . - (2-32)")
    add.add_argument("--name", required=True, metavar="DISPLAY", help='shown to users as "人工客服DISPLAY"')
    add.add_argument(
        "--max-chats", type=int, metavar="N", help="open chats at once (default: CS_AGENT_MAX_CHATS)"
    )
    add.add_argument(
        "--role",
        default=AGENT,
        metavar="ROLE",
        help=f"{' or '.join(ROLES)} (default {AGENT}): a supervisor "
        "also reads any conversation and the record of who read which",
    )
    add.add_argument("--password-stdin", action="store_true", help=stdin_help)

    command("disable", _disable, "refuse the agent's log-ins and end their sessions").add_argument(
        "username", metavar="USERNAME"
    )
    command("enable", _enable, "let a disabled agent log in again").add_argument(
        "username", metavar="USERNAME"
    )

    passwd = command("passwd", _passwd, "set a new password (ends the agent's sessions)")
    passwd.add_argument("username", metavar="USERNAME")
    passwd.add_argument("--password-stdin", action="store_true", help=stdin_help)

    max_chats = command("max-chats", _set_max_chats, "set how many chats the agent may have open at once")
    max_chats.add_argument("username", metavar="USERNAME")
    max_chats.add_argument("n", metavar="N", type=_max_chats, help='a number, or "default"')

    role = command("role", _set_role, "make the account an agent or a supervisor")
    role.add_argument("username", metavar="USERNAME")
    role.add_argument("role", metavar="ROLE", help=" or ".join(ROLES))

    command("list", _list, "list the agents, their roles and who is online")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except (accounts.AccountError, _Refused) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except SQLAlchemyError as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"error: database: {reason}", file=sys.stderr)
        return 1
    except EOFError:
        print("error: no password given (end of input)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nerror: cancelled", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
