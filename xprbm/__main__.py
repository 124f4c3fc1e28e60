"""``python -m xprbm``: the command line."""

from .cli import main

raise SystemExit(main())
