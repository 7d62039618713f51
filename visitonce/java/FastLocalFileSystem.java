package org.visitonce.fs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * Hadoop's checksummed local file system ({@code file:}), with permissions set through Java NIO.
 *
 * <p>Without Hadoop's native library (pip's pyspark has none), {@link RawLocalFileSystem} sets the
 * permission of every file and folder it creates by starting a {@code chmod} process: about five
 * processes per written Parquet file (the file, its .crc, and their folder). Four years of daily
 * partitions took 11 s to write, 0.5 s for one month of the same rows. Here the permission is
 * set with {@link Files#setPosixFilePermissions}, and not at all when the file already has it.
 * Everything else (checksums, renames, listing) is Hadoop's own.
 */
public class FastLocalFileSystem extends LocalFileSystem {

  public FastLocalFileSystem() {
    super(new Raw());
  }

  /** The raw local file system, with {@code setPermission} in-process. */
  public static class Raw extends RawLocalFileSystem {
    private static final PosixFilePermission[] BITS = {
      PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
      PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE,
      PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
      PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
      PosixFilePermission.OWNER_READ,
    };

    static Set<PosixFilePermission> posix(short mode) {
      Set<PosixFilePermission> out = EnumSet.noneOf(PosixFilePermission.class);
      for (int i = 0; i < BITS.length; i++) {
        if ((mode & (1 << i)) != 0) {
          out.add(BITS[i]);
        }
      }
      return out;
    }

    @Override
    public void setPermission(Path p, FsPermission permission) throws IOException {
      short mode = permission.toShort();
      if ((mode & ~0777) != 0) { // sticky bit and the like: Hadoop's own way
        super.setPermission(p, permission);
        return;
      }
      java.nio.file.Path file = pathToFile(p).toPath();
      Set<PosixFilePermission> want = posix(mode);
      try {
        if (!want.equals(Files.getPosixFilePermissions(file))) {
          Files.setPosixFilePermissions(file, want);
        }
      } catch (UnsupportedOperationException notPosix) {
        super.setPermission(p, permission);
      }
    }
  }
}
