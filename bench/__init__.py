"""Speed benchmarks: `make bench` (laptop.py: config.yml against Rasa's default config, `rasa init`'s
in baseline_config.yml), the production profile (production.py: PostgreSQL, Redis, two Rasa servers),
the web chat in Chromium (widget_latency.py), an interleaved A/B of two Rasa servers (ab.py), and the
load they play and measure (load.py).

scripts/bench.py is only the command `make bench` runs. This is a regular package so that it, not
scripts/bench.py itself, is the `bench` that script imports."""
