"""The human agents' side: accounts and sessions, assignment, notes, live updates, the context panel."""
