"""The wire fuzzing of tests/reliability/test_wire_fuzz.py, longer and with fresh seeds.

    python -m bench.fuzz_long [--scale 20] [--seeds 1,2,3]

Runs the fuzz tests against a real app process with ``--scale`` times the CI
number of examples, once per seed (``--hypothesis-seed``; the CI run is
derandomized instead).  Prints pytest's summary and the number of inputs and
connections tried ("reliability: fuzz connections: N, fuzz inputs: M").  A
failure prints Hypothesis's minimal example and the seed that replays it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--seeds", default="1")
    args = parser.parse_args(argv)
    env = dict(os.environ, RELOAD_SERVER_FUZZ_SCALE=str(args.scale), RELOAD_SERVER_FUZZ_SEEDED="1")
    status = 0
    for seed in args.seeds.split(","):
        print(f"== seed {seed}, scale {args.scale}", flush=True)
        code = subprocess.call(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/reliability/test_wire_fuzz.py",
                "-q",
                "-p",
                "no:cacheprovider",
                "--timeout",
                "0",
                f"--hypothesis-seed={seed}",
            ],
            cwd=REPO,
            env=env,
        )
        status = status or code
    return status


if __name__ == "__main__":
    sys.exit(main())
