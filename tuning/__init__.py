"""Measured speed-ups of Rasa internals (see README, "Benchmark")."""
