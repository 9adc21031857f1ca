"""`make bench` (`python -m bench`): config.yml against Rasa's default config, then the production
profile and the web chat (the code is bench/laptop.py; `--help` lists the options)."""

from __future__ import annotations

import sys

from bench.laptop import main

if __name__ == "__main__":
    sys.exit(main())
