"""TicketTracker: a private, local-first help desk in a native window."""

__version__ = "0.1.0"
