"""Draft the next migration from the difference between models.py and the migrations.

    python -m tickettracker.migrations "add first_response_at to tickets"

It builds a scratch database by running every existing migration, compares it with the
models, and writes tickettracker/migrations/versions/NNNN_<words>.py. Read and finish the
draft before committing it (docs/SCHEMA.md): autogenerate cannot guess renames or data moves.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from alembic import command

from tickettracker import db, schema


def next_revision_id(message: str) -> str:
    numbers = [int(r.split("_", 1)[0]) for r in schema.known_revisions() if r[:4].isdigit()]
    words = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "change"
    return f"{max(numbers, default=0) + 1:04d}_{words}"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].strip():
        print(__doc__, file=sys.stderr)
        return 2
    message = argv[0].strip()
    with tempfile.TemporaryDirectory() as tmp:
        engine = db.make_engine(Path(tmp) / "draft.db")
        try:
            if schema.known_revisions():
                schema.build_by_migrations(engine)
            with engine.connect() as conn, conn.begin():
                cfg = schema.alembic_config(conn)
                script = command.revision(
                    cfg, message, autogenerate=True, rev_id=next_revision_id(message)
                )
        finally:
            engine.dispose()
    print(f"Wrote {script.path}: read it, finish it, and add a test (see docs/SCHEMA.md).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
