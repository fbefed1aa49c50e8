"""spark-submit entry point for publishing validated gold (the same as `tradelake run publish`).

    spark-submit --jars "$(tradelake jars)" jobs/publish.py --date 2026-01-05 [--env cluster]
"""
import sys

from tradelake.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "publish", *sys.argv[1:]]))
