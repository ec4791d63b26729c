"""``python -m pystator`` runs the command line."""

from pystator.cli import main

raise SystemExit(main())
