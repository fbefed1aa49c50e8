"""The Delta Lake jars: resolved once from Maven Central into a local cache, then used offline.

The jar version is not pinned here: it is the pip `delta-spark` version (pinned in constraints.txt), and
the artifact is the one built for the installed pyspark's major.minor, exactly as
`delta.pip_utils.configure_spark_with_delta_pip` names it. Only delta-spark and delta-storage are
fetched: everything else Delta needs at run time is already in pyspark's own jars, and Ivy's full
transitive set (older Jackson, Hadoop, Parquet) would shadow Spark's versions.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MAVEN_CENTRAL = os.environ.get("TRADELAKE_MAVEN_REPO", "https://repo1.maven.org/maven2")


class JarsError(RuntimeError):
    pass


@dataclass(frozen=True)
class Artifact:
    group: str
    name: str
    version: str

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}.jar"

    @property
    def url(self) -> str:
        return f"{MAVEN_CENTRAL}/{self.group.replace('.', '/')}/{self.name}/{self.version}/{self.filename}"


def delta_artifacts() -> list[Artifact]:
    import pyspark

    delta_version = importlib.metadata.version("delta-spark")
    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    return [
        Artifact("io.delta", f"delta-spark_{spark_minor}_2.13", delta_version),
        Artifact("io.delta", "delta-storage", delta_version),
    ]


def jar_paths(cache_dir: str) -> list[str]:
    """The cached jar files, or an error saying how to get them."""
    paths = [Path(cache_dir) / a.filename for a in delta_artifacts()]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise JarsError(
            "Delta jars are not in the local cache: " + ", ".join(missing)
            + ". Run `make setup` (or `tradelake setup-jars`) once with access to Maven Central."
        )
    return [str(p) for p in paths]


def ensure_jars(cache_dir: str, timeout: float = 60.0) -> list[str]:
    """Download missing jars into cache_dir, verifying Maven Central's SHA-1 for each. Idempotent."""
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for art in delta_artifacts():
        target = cache / art.filename
        if not target.is_file():
            try:
                expected_sha1 = _fetch(art.url + ".sha1", timeout).decode().split()[0].strip()
                data = _fetch(art.url, timeout)
            except (urllib.error.URLError, TimeoutError, OSError) as e:
                raise JarsError(
                    f"could not download {art.url}: {e}. The Delta jars come from Maven Central once; "
                    "check the network (or set TRADELAKE_MAVEN_REPO to a mirror) and run `make setup` again."
                ) from e
            actual = hashlib.sha1(data).hexdigest()
            if actual != expected_sha1:
                raise JarsError(f"{art.url}: SHA-1 {actual} does not match Maven Central's {expected_sha1}")
            # Write then rename, so an interrupted download never leaves a truncated jar in the cache.
            with tempfile.NamedTemporaryFile(dir=cache, delete=False, suffix=".part") as tmp:
                tmp.write(data)
            os.replace(tmp.name, target)
        out.append(str(target))
    return out


def _fetch(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read()
