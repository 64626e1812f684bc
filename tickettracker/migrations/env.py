"""Alembic's entry point. TicketTracker always hands it an open connection inside its own
transaction (see tickettracker/schema.py), so there is no engine or URL configuration here."""

from alembic import context

from tickettracker.models import Base, UTCDateTime
from tickettracker.schema import comparison_filter


def render_item(type_, obj, autogen_context):
    """Draft migrations use plain SQLAlchemy types, so they never import the app's models
    (a migration must keep working when models.py has moved on)."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead (copy, drop,
    # rename), which schema.py makes safe by switching foreign keys off for the upgrade.
    render_as_batch=True,
    compare_type=True,
    include_object=comparison_filter(connection),
    render_item=render_item,
)
with context.begin_transaction():  # a no-op: the caller's transaction is already open
    context.run_migrations()
