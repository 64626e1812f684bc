"""Entry point for frozen builds (PyInstaller): the same as the `tickettracker` command."""

from tickettracker.cli import main

raise SystemExit(main())
