#!/usr/bin/env python3
"""Run a command and report its wall time and the peak memory of its whole process tree (Python
driver + JVM + Python workers), sampled every second (reading PSS of a large JVM costs CPU itself).

Memory is the sum of PSS (proportional set size): pages shared between processes are split among
them, so a JVM that forks a short-lived helper (Hadoop's local file system runs shell commands) is
not counted twice, as a sum of RSS would.

    python scripts/measure.py -- make demo
"""
from __future__ import annotations

import subprocess
import sys
import time

import psutil


def tree_rss(proc: psutil.Process) -> tuple[int, list[tuple[int, str]]]:
    total, parts = 0, []
    for p in [proc, *proc.children(recursive=True)]:
        try:
            try:
                rss = p.memory_full_info().pss
            except (psutil.AccessDenied, AttributeError):
                rss = p.memory_info().rss
            total += rss
            parts.append((rss, p.name()))
        except psutil.Error:
            pass
    return total, parts


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1:]
    t0 = time.monotonic()
    child = subprocess.Popen(argv)
    proc = psutil.Process(child.pid)
    peak, peak_parts = 0, []
    while child.poll() is None:
        try:
            total, parts = tree_rss(proc)
            if total > peak:
                peak, peak_parts = total, parts
        except psutil.Error:
            pass
        time.sleep(1.0)
    wall = time.monotonic() - t0
    print(f"measure: exit {child.returncode}, wall {wall:.1f} s, peak memory (PSS) of the process tree {peak / 2**20:.0f} MiB",
          file=sys.stderr)
    biggest = ", ".join(f"{name} {rss / 2**20:.0f} MiB" for rss, name in sorted(peak_parts, reverse=True)[:3])
    print(f"measure: at the peak: {biggest}", file=sys.stderr)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
