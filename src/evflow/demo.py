"""``make demo``: the main job on bundled data.

The pipeline lands piece by piece; until inference lands this runs ``evflow info`` on the bundled sample
recording (a synthetic moving checkerboard, RAW EVT 3.0) and prints where that recording is.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Run the demo and print where its inputs/outputs are."""
    from evflow.cli.main import main as evflow_main
    from evflow.io.make_sample import sample_recording_path

    path = sample_recording_path()
    rc = evflow_main(["info", str(path)])
    print(f"\nbundled sample recording: {path}")
    print(f"try: evflow convert {path} sample.dat   # or .h5 / .npy / .npz / another .raw")
    return rc


if __name__ == "__main__":
    sys.exit(main())
