"""`python -m tickettracker`."""

import sys

from .cli import main

sys.exit(main())
