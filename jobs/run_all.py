"""spark-submit entry point running every job over a range of days in one application
(the same as `tradelake run all`).

    spark-submit --jars "$(tradelake jars)" jobs/run_all.py --from 2026-01-01 --to 2026-01-31
"""
import sys

from tradelake.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "all", *sys.argv[1:]]))
