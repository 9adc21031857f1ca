"""`make bench`: config.yml against Rasa's default config, then the production profile and the web chat
(the code is bench/laptop.py; `--help` lists the options)."""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this directory comes first on the path, where `bench` would be this file.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.laptop import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
