package tradelake.hadoop;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * Hadoop's local file system with two of its calls made by the JVM itself instead of a child process.
 *
 * Without Hadoop's native library (pip's pyspark has none), RawLocalFileSystem runs {@code chmod} for
 * every file and directory it creates and {@code readlink} for every path FileContext renames or
 * checks - each a fork of the JVM, about 20 ms. A Delta commit renames its log file through
 * FileContext, so every commit paid several of them, and every Parquet file one more. The results
 * are the same: POSIX permissions set through java.nio (a sticky bit, which it cannot set, through
 * chmod), and a path that is not a symbolic link has the status getFileStatus gives (a symbolic link
 * keeps Hadoop's own way).
 */
public class NioRawLocalFileSystem extends RawLocalFileSystem {

  @Override
  public void setPermission(Path p, FsPermission permission) throws IOException {
    if (permission.getStickyBit()) {
      super.setPermission(p, permission);  // java.nio has no sticky bit: Hadoop's chmod
      return;
    }
    Files.setPosixFilePermissions(pathToFile(p).toPath(), posix(permission.toShort()));
  }

  @Override
  public FileStatus getFileLinkStatus(Path f) throws IOException {
    File file = pathToFile(f);
    if (Files.isSymbolicLink(file.toPath())) {
      return super.getFileLinkStatus(f);
    }
    return getFileStatus(f);  // FileNotFoundException when absent, as Hadoop's
  }

  static Set<PosixFilePermission> posix(short mode) {
    PosixFilePermission[] order = {
        PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
        PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
        PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ};
    Set<PosixFilePermission> out = EnumSet.noneOf(PosixFilePermission.class);
    for (int bit = 0; bit < order.length; bit++) {
      if ((mode & (1 << bit)) != 0) {
        out.add(order[bit]);
      }
    }
    return out;
  }
}
