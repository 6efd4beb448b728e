"""``make demo``: the main job on bundled data.

The pipeline lands piece by piece; until inference lands this prints the available commands.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Run the demo and print where its outputs are."""
    from evflow.cli.main import build_parser

    build_parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
