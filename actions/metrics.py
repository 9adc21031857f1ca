"""The action server's GET /metrics (observability/action_server.py), added when rasa_sdk loads this
package; nothing happens where the actions run without it (tests)."""

from observability import action_server

action_server.attach()
