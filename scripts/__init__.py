"""The commands users run (`make run`, `make shell`, `make report`, `make simulate`, the web server,
backups, a new FAQ topic...), and scripts/servers.py, which starts the real servers for them, the tests
and the benchmarks. Run with the project root as the working directory.

Layer: the top; only bench/ imports it (servers.py).
"""
