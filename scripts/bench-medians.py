#!/usr/bin/env python3
"""Print the median of every criterion benchmark under target/criterion.

Usage: scripts/bench-medians.py [substring]   (after `cargo bench`; honours CARGO_TARGET_DIR)
"""
import json
import pathlib
import sys

import os

target = os.environ.get("CARGO_TARGET_DIR")
root = (pathlib.Path(target) if target else pathlib.Path(__file__).resolve().parent.parent / "target") / "criterion"
wanted = sys.argv[1] if len(sys.argv) > 1 else ""
for estimates in sorted(root.glob("**/new/estimates.json")):
    name = str(estimates.parent.parent.relative_to(root))
    if wanted not in name:
        continue
    median_ns = json.loads(estimates.read_text())["median"]["point_estimate"]
    unit, scale = next((u, s) for u, s in (("s", 1e9), ("ms", 1e6), ("µs", 1e3), ("ns", 1)) if median_ns >= s)
    print(f"{name:55} {median_ns / scale:10.2f} {unit}")
