"""Schema migrations (Alembic scripts). How to add one: see docs/SCHEMA.md."""
