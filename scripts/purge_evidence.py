"""Evidence retention: deletes uploaded evidence (files and records) after a retention period.

    make evidence-purge DAYS=90                      every ticket whose last upload is older than 90 days
    python scripts/purge_evidence.py --ticket DY20261125-000001   one ticket's evidence, now
    python scripts/purge_evidence.py --check         rows without a file, files without a row (report)

It works on CS_EVIDENCE_DIR (default var/evidence) and CS_DATABASE_URL, like the web server, and can
run while the web server runs (each ticket is locked while its evidence goes). Records are deleted
before files; a crash in between leaves files that the web server's start-up recovery removes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evidence.config import Settings  # noqa: E402
from evidence.links import TICKET_NUMBER  # noqa: E402
from evidence.storage import EvidenceStore  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--days", type=float, help="retention: delete evidence last uploaded before this")
    group.add_argument("--ticket", help="delete this ticket's evidence now")
    group.add_argument("--check", action="store_true", help="report inconsistencies, delete nothing")
    args = parser.parse_args(argv)
    store = EvidenceStore(Settings.from_env())
    if args.check:
        report = store.check()
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return 1 if any(report.values()) else 0
    if args.ticket is not None and not TICKET_NUMBER.match(args.ticket):
        parser.error(f"not a ticket number: {args.ticket}")
    if args.days is not None and args.days < 0:
        parser.error("--days must be 0 or more")
    report = store.purge(days=args.days, ticket=args.ticket)
    print(f"Deleted the evidence of {report['tickets']} ticket(s): {report['files']} file(s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
