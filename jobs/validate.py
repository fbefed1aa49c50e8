"""spark-submit entry point for validation (the same as `tradelake run validate`).

    spark-submit --jars "$(tradelake jars)" jobs/validate.py --layer silver --date 2026-01-05 [--env cluster]
"""
import sys

from tradelake.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "validate", *sys.argv[1:]]))
