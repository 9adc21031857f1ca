"""What an account may do besides answering users: its role, `agent` or `supervisor`, and the one check
that the console's API (and any later page) makes before a supervisor's feature.

An agent works the queue and reads the conversations that are theirs (agents/access.py); a supervisor
also reads any conversation and the record of who read which (agents/audit.py). The role is a column of
`agents` (agents/schema.py), set with `python -m agents.cli add --role` or `agents.cli role`.
"""

from __future__ import annotations

from typing import Any

AGENT = "agent"
SUPERVISOR = "supervisor"
ROLES = (AGENT, SUPERVISOR)


class RoleRequired(Exception):
    """The account lacks the role the step needs; `message` is shown to the agent as is (HTTP 403)."""

    status = 403

    def __init__(self, role: str) -> None:
        self.role = role
        self.message = "仅主管可以查看" if role == SUPERVISOR else f"需要{role}角色"
        super().__init__(self.message)


def has_role(agent: Any, role: str) -> bool:
    """True when the account holds `role`; a supervisor holds the agent's role as well."""
    held = getattr(agent, "role", AGENT)
    return held == role or (held == SUPERVISOR and role == AGENT)


def require_role(agent: Any, role: str) -> None:
    """Raises RoleRequired unless the account holds `role`."""
    if not has_role(agent, role):
        raise RoleRequired(role)


def is_supervisor(agent: Any) -> bool:
    return has_role(agent, SUPERVISOR)
