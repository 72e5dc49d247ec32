#!/usr/bin/env python3
"""Prints the crate's module dependency graph and fails if a module uses one
above it: ffi -> net -> server -> session -> the protocol pieces (rtp, rtsp,
sdp, clock; access_unit and backchannel over rtp). Test code is left out: a test may drive a
layer the way the one above it does (the server tests push media through the
producer's inbox, as the runtime does).

    scripts/check_layers.py [SRC_DIR]
"""
import pathlib
import re
import sys

RANK = {
    "rtp": 0, "rtsp": 0, "sdp": 0, "clock": 0, "timer": 0, "small_map": 0,
    "access_unit": 1, "backchannel": 1,
    "session": 2,
    "server": 3, "client": 3,
    "net": 4,
    "ffi": 5,
}
# The crate root declares every module; the no_std runtime is the allocator and panic handler.
SKIP = {"lib", "runtime", "test_media", "session_tests"}


def production_code(text):
    """The file without its `#[cfg(test)] mod ... { ... }` blocks."""
    out, depth, skipping, pending = [], 0, False, False
    for line in text.splitlines():
        stripped = line.strip()
        if not skipping and stripped == "#[cfg(test)]":
            pending = True
            continue
        if pending:
            pending = False
            if stripped.startswith("mod ") and stripped.endswith("{"):
                skipping, depth = True, 0
            elif stripped.startswith("mod ") or stripped.startswith("#[path"):
                continue  # a test module in a file of its own
            else:
                out.append(line)
                continue
        if skipping:
            depth += line.count("{") - line.count("}")
            if depth <= 0 and "}" in line:
                skipping = False
            continue
        out.append(line)
    return "\n".join(out)


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    edges, bad = set(), []
    for path in sorted(src.rglob("*.rs")):
        rel = path.relative_to(src)
        module = rel.parts[0].removesuffix(".rs")
        if module in SKIP or rel.name == "tests.rs" or rel.name.endswith("_tests.rs") or "tests" in rel.parts:
            continue
        for used in sorted(set(re.findall(r"crate::([a-z_]+)", production_code(path.read_text())))):
            if used == module or used not in RANK:
                continue
            edges.add((module, used))
            if RANK[used] >= RANK[module]:
                bad.append(f"{rel}: uses crate::{used}, which is not below {module}")
    for a, b in sorted(edges, key=lambda e: (-RANK[e[0]], e[0], -RANK[e[1]], e[1])):
        print(f"{a} -> {b}")
    if bad:
        print("\n".join(["layering broken:"] + bad), file=sys.stderr)
        sys.exit(1)
    print("layers: every dependency points down (ffi -> net -> server -> session -> protocol pieces)")


if __name__ == "__main__":
    main()
