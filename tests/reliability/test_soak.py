"""A bounded soak: 200 reload cycles through the server leak nothing per cycle.

The long version (1,000+ cycles, RSS figures) is ``python -m bench.soak``; this
one asserts object counts only, never time or RSS.
"""

from __future__ import annotations

import importlib.util
import sys

from support.paths import REPO
from support.tally import count

CYCLES = 200
# The changed-only planner keeps, per module, what it derived from the code the
# module runs (its instructions, its live functions' facts): a few hundred objects
# that settle within the first reloads, whatever their number after.
WARM_UP = 100
EVERY = 50


def _bench_soak():
    name = "bench_soak"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "bench" / "soak.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_two_hundred_reload_cycles_keep_behaviour_right_and_object_counts_flat(tmp_path):
    result = _bench_soak().soak(CYCLES, every=EVERY, base=tmp_path)
    count("soak cycles", CYCLES)

    assert result["statuses"] == {"reloaded": CYCLES}
    assert result["checks"] == {k: True for k in result["checks"]}
    samples = {s["cycle"]: s for s in result["samples"]}
    warm, end = samples[WARM_UP], samples[CYCLES]
    # Old functions, classes and module objects are collected: exact counts.
    assert end["soaked_functions"] == warm["soaked_functions"] == samples[0]["soaked_functions"]
    assert end["soaked_classes"] == warm["soaked_classes"] == 1
    assert end["modules"] == warm["modules"]
    assert end["sys_modules"] == warm["sys_modules"]
    # Nothing else grows with the number of reloads: less than one object per cycle.
    assert end["gc_objects"] - warm["gc_objects"] < CYCLES - WARM_UP, result["samples"]
