"""Benchmarks beyond `make bench` (scripts/bench.py). A regular package, so that `bench.production`
is found when scripts/bench.py runs as a script: there `bench` would otherwise be scripts/bench.py."""
