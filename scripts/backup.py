"""Backups of the service database, the step before an upgrade (`make backup`, `make restore`).

    make backup                                   var/backups/service-<UTC time>.db (SQLite) or .dump
    make restore FILE=var/backups/service-20261206T140512Z.db

SQLite: SQLite's online backup (a consistent copy, also while the servers write), and in the laptop
profile the conversations too (var/rasa_tracker.db -> rasa_tracker-<time>.db). PostgreSQL: `pg_dump
--format=custom` of CS_DATABASE_URL's database (in Compose it holds the conversations too), restored
with `pg_restore --clean`. The password goes to pg_dump in PGPASSWORD, never on its command line.

A restore replaces the database's content with the backup's: stop the servers first. A file named
rasa_tracker-… goes back to var/rasa_tracker.db, any other to the service database (or --url).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url  # noqa: E402

from core import store  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BACKUPS = ROOT / "var" / "backups"
TRACKER_FILE = ROOT / "var" / "rasa_tracker.db"  # endpoints.yml's tracker store


def sqlite_path(url: str) -> Optional[Path]:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if parsed.database in (None, "", ":memory:"):
        raise SystemExit(f"not a database file: {url}")
    return Path(parsed.database)


def postgres_tool(name: str, bin_dir: Optional[str]) -> str:
    """pg_dump / pg_restore: from --pg-bin, the PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    if bin_dir:
        return str(Path(bin_dir) / name)
    found = shutil.which(name) or (sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [None])[-1]
    if not found:
        raise SystemExit(f"{name} is missing: install PostgreSQL's client programs (or give --pg-bin)")
    return found


def libpq(url: str) -> tuple:
    """The URL without its driver and password (for pg_dump's command line) and an environment with
    the password."""
    parsed = make_url(url)
    env = {**os.environ}
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup API: page by page, consistent, without stopping the writers."""
    source_db = sqlite3.connect(str(source))
    target_db = sqlite3.connect(str(target))
    try:
        source_db.backup(target_db)
    finally:
        target_db.close()
        source_db.close()


def backup(
    url: str,
    directory: Path,
    name: str = "service",
    pg_bin: Optional[str] = None,
    now: Optional[datetime] = None,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    path = sqlite_path(url)
    if path is not None:
        if not path.exists():
            raise SystemExit(f"no database at {path}")
        target = directory / f"{name}-{stamp}.db"
        copy_sqlite(path, target)
        return target
    target = directory / f"{name}-{stamp}.dump"
    address, env = libpq(url)
    command = [postgres_tool("pg_dump", pg_bin), "--format=custom", "--file", str(target), address]
    subprocess.run(command, check=True, env=env)
    return target


def restore(file: Path, url: str, pg_bin: Optional[str] = None) -> None:
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        copy_sqlite(file, path)  # through SQLite: its write-ahead log stays consistent
        return
    address, env = libpq(url)
    command = [postgres_tool("pg_restore", pg_bin), "--clean", "--if-exists", "--no-owner",
               "--dbname", address, str(file)]  # fmt: skip
    subprocess.run(command, check=True, env=env)


def databases() -> Dict[str, str]:
    """What `make backup` copies: the service database and, in the laptop profile (no
    CS_DATABASE_URL), the conversations beside it."""
    found = {"service": store.database_url()}
    if not os.environ.get(store.DATABASE_URL_VARIABLE) and TRACKER_FILE.exists():
        found["rasa_tracker"] = f"sqlite:///{TRACKER_FILE}"
    return found


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--url", help="the database (default: CS_DATABASE_URL, else var/service.db)")
    parser.add_argument("--dir", type=Path, default=BACKUPS, help="where backups go (default var/backups)")
    parser.add_argument("--restore", type=Path, metavar="FILE", help="put this backup back")
    parser.add_argument("--pg-bin", help="the folder of pg_dump and pg_restore")
    args = parser.parse_args(argv)
    if args.restore:
        if not args.restore.is_file():
            parser.error(f"no such backup: {args.restore}")
        tracker = args.restore.name.startswith("rasa_tracker-")
        url = args.url or (f"sqlite:///{TRACKER_FILE}" if tracker else store.database_url())
        restore(args.restore, url, args.pg_bin)
        print(f"Restored {args.restore} into {make_url(url).render_as_string(hide_password=True)}")
        return 0
    for name, url in ({"service": args.url} if args.url else databases()).items():
        print(backup(url, args.dir, name, args.pg_bin))
    return 0


if __name__ == "__main__":
    sys.exit(main())
