"""Speed benchmarks: `make bench` (`python -m bench`, laptop.py: config.yml against Rasa's default
config, `rasa init`'s in baseline_config.yml), the production profile (production.py: PostgreSQL,
Redis, two Rasa servers), the web chat in Chromium (widget_latency.py), an interleaved A/B of two Rasa
servers (ab.py), and the load they play and measure (load.py). It starts the servers with
scripts/servers.py, as the tests do; nothing outside bench/ imports it."""
