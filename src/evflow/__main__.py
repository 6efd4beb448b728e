"""``python -m evflow`` runs the command line."""

import sys

from evflow.cli.main import main

sys.exit(main())
