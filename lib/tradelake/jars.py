"""The jars every session has: Delta Lake's, resolved once from Maven Central into a local cache, then used
offline; and tradelake's own local file system (lib/tradelake/jvm), compiled once into the same cache.

The jar version is not pinned here: it is the pip `delta-spark` version (pinned in constraints.txt), and
the artifact is the one built for the installed pyspark's major.minor, exactly as
`delta.pip_utils.configure_spark_with_delta_pip` names it. Only delta-spark and delta-storage are
fetched: everything else Delta needs at run time is already in pyspark's own jars, and Ivy's full
transitive set (older Jackson, Hadoop, Parquet) would shadow Spark's versions.

The local file system: without Hadoop's native library (pip's pyspark has none) Hadoop runs `chmod` for every
file it creates and `readlink` for every path FileContext renames - a fork of the JVM each, about 20 ms, several
per Delta commit. tradelake.hadoop.NioLocalFileSystem does both through java.nio (a small Delta append:
293 ms -> 213 ms). It needs a JDK to compile; without one, sessions use Hadoop's own (slower, the same files).
"""
from __future__ import annotations

import glob
import hashlib
import importlib.metadata
import logging
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
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
    """The cached Delta jar files, or an error saying how to get them."""
    paths = [Path(cache_dir) / a.filename for a in delta_artifacts()]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise JarsError(
            "Delta jars are not in the local cache: " + ", ".join(missing)
            + ". Run `make setup` (or `tradelake setup-jars`) once with access to Maven Central."
        )
    return [str(p) for p in paths]


# --- tradelake's local file system -------------------------------------------------------------------------
JAVA_SOURCES = Path(__file__).parent / "jvm"
# What a local-mode session sets when the jar is on its driver's classpath (spark.driver.extraClassPath: Hadoop
# looks the classes up before --jars are loaded): FileSystem for file: paths, and FileContext's.
LOCAL_FS_CONF = {
    "spark.hadoop.fs.file.impl": "tradelake.hadoop.NioLocalFileSystem",
    "spark.hadoop.fs.AbstractFileSystem.file.impl": "tradelake.hadoop.NioLocalFs",
}


def _java_sources() -> list[Path]:
    return sorted(JAVA_SOURCES.rglob("*.java"))


def local_fs_jar(cache_dir: str) -> Path:
    """Where the local file system's jar is, named by a hash of its sources (a changed source builds anew).
    Computed without pyspark: the DAG files name it while they are parsed."""
    digest = hashlib.sha256()
    for src in _java_sources():
        digest.update(src.relative_to(JAVA_SOURCES).as_posix().encode() + b"\0" + src.read_bytes())
    return Path(os.path.expanduser(cache_dir)) / f"tradelake-localfs-{digest.hexdigest()[:12]}.jar"


def _javac() -> str | None:
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home) / "bin" / "javac" if home else None
    return str(candidate) if candidate and candidate.is_file() else shutil.which("javac")


def build_local_fs_jar(cache_dir: str) -> Path | None:
    """Compile lib/tradelake/jvm against pyspark's Hadoop into the cache (once per version of the sources).
    None, with a warning, when there is no javac: sessions then use Hadoop's local file system."""
    import pyspark

    target = local_fs_jar(cache_dir)
    if target.is_file():
        return target
    javac = _javac()
    if javac is None:
        log.warning("no javac (a JDK): tradelake's local file system is not built; Hadoop's own is used "
                    "(the same files, slower: it forks chmod and readlink)")
        return None
    hadoop = glob.glob(os.path.join(os.path.dirname(pyspark.__file__), "jars", "hadoop-client-api-*.jar"))
    if not hadoop:
        raise JarsError("pyspark's jars have no hadoop-client-api jar to compile tradelake's local file system against")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as classes:
        out = subprocess.run([javac, "--release", "17", "-nowarn", "-cp", hadoop[0], "-d", classes,
                              *map(str, _java_sources())], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise JarsError(f"compiling tradelake's local file system failed:\n{out.stdout}{out.stderr}")
        # Write then rename, so a concurrent or interrupted build never leaves a partial jar.
        with (tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp,
              zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as jar):
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: tradelake\n")
            for cls in sorted(Path(classes).rglob("*.class")):
                jar.write(cls, cls.relative_to(classes).as_posix())
        os.replace(tmp.name, target)
    return target


def ensure_jars(cache_dir: str, timeout: float = 60.0) -> list[str]:
    """Download missing Delta jars into cache_dir, verifying Maven Central's SHA-1 for each, and build the
    local file system's jar. Idempotent."""
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
    local_fs = build_local_fs_jar(str(cache))
    return out + ([str(local_fs)] if local_fs else [])


def _fetch(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read()
