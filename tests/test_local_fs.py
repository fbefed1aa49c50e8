"""tradelake's local file system (lib/tradelake/jvm, tradelake.jars): every session uses it for file: paths,
and it gives what Hadoop's own gives - the same permissions on what it creates, the same statuses - without
forking `chmod` and `readlink` for them."""
from __future__ import annotations

import os
import shutil
import stat

import pytest

from tradelake import jars
from tradelake.config import load_settings

NIO_FS, NIO_FC = (jars.LOCAL_FS_CONF[k] for k in ("spark.hadoop.fs.file.impl", "spark.hadoop.fs.AbstractFileSystem.file.impl"))


@pytest.fixture(scope="module")
def hadoop(spark):
    jvm = spark.sparkContext._jvm
    return jvm, spark.sparkContext._jsc.hadoopConfiguration()


def test_the_jar_is_built_by_setup_and_every_session_uses_it(spark, hadoop):
    if jars._javac() is None:
        pytest.skip("no javac on this machine: sessions use Hadoop's local file system")
    cache = load_settings("test").jars_cache
    assert jars.local_fs_jar(cache).is_file()
    jvm, conf = hadoop
    uri = jvm.java.net.URI("file:///")
    assert jvm.org.apache.hadoop.fs.FileSystem.get(uri, conf).getClass().getName() == NIO_FS
    fc = jvm.org.apache.hadoop.fs.FileContext.getFileContext(uri, conf)
    assert fc.getDefaultFileSystem().getClass().getName() == NIO_FC


def test_a_changed_source_names_another_jar(tmp_path, monkeypatch):
    shutil.copytree(jars.JAVA_SOURCES, tmp_path / "jvm")
    monkeypatch.setattr(jars, "JAVA_SOURCES", tmp_path / "jvm")
    before = jars.local_fs_jar("/cache")
    source = next((tmp_path / "jvm").rglob("NioRawLocalFileSystem.java"))
    source.write_text(source.read_text() + "\n// changed\n")
    assert jars.local_fs_jar("/cache") != before and before.name.startswith("tradelake-localfs-")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_what_it_creates_has_the_permissions_hadoops_own_gives(hadoop, tmp_path):
    jvm, conf = hadoop
    Path, FsPermission = jvm.org.apache.hadoop.fs.Path, jvm.org.apache.hadoop.fs.permission.FsPermission
    ours = jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"), conf).getRaw()
    theirs = jvm.org.apache.hadoop.fs.RawLocalFileSystem()
    theirs.initialize(jvm.java.net.URI("file:///"), conf)
    assert ours.getClass().getName() != theirs.getClass().getName() or jars._javac() is None
    modes = {}
    for name, fs in (("ours", ours), ("theirs", theirs)):
        root = tmp_path / name
        fs.mkdirs(Path(f"file://{root}/a/b"), FsPermission("750"))
        fs.create(Path(f"file://{root}/a/b/data.parquet"), True).close()
        fs.create(Path(f"file://{root}/secret")).close()
        fs.setPermission(Path(f"file://{root}/secret"), FsPermission("640"))
        fs.setPermission(Path(f"file://{root}/a"), FsPermission("1777"))  # the sticky bit: Hadoop's chmod sets it too
        for mode in ("753", "426", "061"):  # every bit on its own somewhere
            fs.create(Path(f"file://{root}/{mode}")).close()
            fs.setPermission(Path(f"file://{root}/{mode}"), FsPermission(mode))
        modes[name] = {p: _mode(root / p) for p in ("a", "a/b", "a/b/data.parquet", "secret", "753", "426", "061")}
    assert modes["ours"] == modes["theirs"]
    assert modes["ours"]["secret"] == 0o640 and modes["ours"]["a/b"] == 0o750 and modes["ours"]["a"] == 0o1777
    assert [modes["ours"][m] for m in ("753", "426", "061")] == [0o753, 0o426, 0o061]


def test_link_statuses_and_renames_are_hadoops(spark, hadoop, tmp_path):
    """Through FileContext, as Delta's log store uses it: the same statuses (a symbolic link included) as
    Hadoop's LocalFs gives, and a rename that never replaces a file."""
    jvm, conf = hadoop
    hadoops = jvm.org.apache.hadoop.conf.Configuration(conf)
    hadoops.set("fs.AbstractFileSystem.file.impl", "org.apache.hadoop.fs.local.LocalFs")
    no_overwrite = spark.sparkContext._gateway.new_array(jvm.org.apache.hadoop.fs.Options.Rename, 1)
    no_overwrite[0] = jvm.org.apache.hadoop.fs.Options.Rename.NONE
    Path = jvm.org.apache.hadoop.fs.Path
    statuses = {}
    for name, c in (("ours", conf), ("theirs", hadoops)):
        fc = jvm.org.apache.hadoop.fs.FileContext.getFileContext(jvm.java.net.URI("file:///"), c)
        root = tmp_path / name
        root.mkdir()
        (root / "file").write_text("x")
        os.symlink(root / "file", root / "link")
        seen = []
        for p in ("file", "link", "."):
            st = fc.getFileLinkStatus(Path(f"file://{root}/{p}"))
            seen.append((p, st.isSymlink(), st.isFile(), st.isDirectory(), st.getLen() if st.isFile() else None))
        with pytest.raises(Exception, match="FileNotFoundException"):
            fc.getFileLinkStatus(Path(f"file://{root}/absent"))
        fc.rename(Path(f"file://{root}/file"), Path(f"file://{root}/renamed"), no_overwrite)
        (root / "other").write_text("y")
        with pytest.raises(Exception, match="FileAlreadyExistsException"):
            fc.rename(Path(f"file://{root}/other"), Path(f"file://{root}/renamed"), no_overwrite)
        assert (root / "renamed").read_text() == "x" and (root / "other").read_text() == "y"
        statuses[name] = (fc.getDefaultFileSystem().getClass().getName(), seen)
    assert statuses["ours"][1] == statuses["theirs"][1]
    assert statuses["ours"][0] != statuses["theirs"][0] or jars._javac() is None
