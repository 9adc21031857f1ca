"""Metrics for Prometheus, one module per server, each served on that server's GET /metrics:
rasa_server.py (messages, reply time, NLU confidence, fallbacks, actions), action_server.py (transfers,
the queue and the agents online), web_server.py (evidence uploads). Names start with `douyin_cs_`;
docs/monitoring.md lists them with a Grafana dashboard and alert rules."""
