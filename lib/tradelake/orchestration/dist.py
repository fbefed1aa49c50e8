"""`make dist`: the package as the zip spark-submit ships with --py-files (dist/tradelake.zip).

Pure Python, so a zip on sys.path imports it: the Spark driver (and executors) need only the package's
dependencies installed (pyproject.toml; the wheel `make dist` also builds installs them). The zip is
reproducible: the same sources give the same bytes (sorted entries, fixed timestamps, no caches).

    python -m tradelake.orchestration.dist [--out dist]
"""
from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # lib/tradelake
FIXED_TIME = (2020, 1, 1, 0, 0, 0)
ZIP_NAME = "tradelake.zip"


def package_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    return sorted(p for p in package_dir.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"))


def build_zip(out_dir: str | Path, package_dir: Path = PACKAGE_DIR) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / ZIP_NAME
    tmp = target.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in package_files(package_dir):
            info = zipfile.ZipInfo(f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}", FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(target)  # never a half-written zip where a job could pick it up
    return target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="dist")
    args = p.parse_args(argv)
    print(build_zip(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
