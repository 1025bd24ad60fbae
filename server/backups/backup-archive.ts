import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CorralError, ErrorCode } from '../app/errors';

/** What the archive wrote: the tarball's size and SHA-256 (hex). */
export interface ArchivedFile {
  sizeBytes: number;
  sha256: string;
}

/**
 * The archive could not take a tarball (disk full, no permission, a damaged file): the write side
 * failed, not the node.
 */
export class ArchiveWriteError extends Error {
  constructor(cause: unknown) {
    super(`the backup archive could not store the tarball: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'ArchiveWriteError';
  }
}

/** The temporary files of one backup start with this; nothing else in the directory does. */
const PARTIAL = '.partial-';

/**
 * Corral's own backup archive: one gzip tarball per backup, `<dir>/<backup id>.tar.gz`, on the
 * Corral host (several Corral processes must share the directory). A tarball is streamed into a
 * temporary file in the same directory, flushed to disk (fsync), renamed over its final name and
 * the directory fsync'd: a reader sees the whole file or none, and a crash leaves at most a
 * temporary file, which the next store of that backup removes.
 */
export class BackupArchive {
  constructor(readonly dir: string) {}

  /** Where the tarball of backup `id` lives (whether or not it is there). */
  pathOf(id: string): string {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw new Error(`not a backup id: ${id}`);
    return path.join(this.dir, `${id}.tar.gz`);
  }

  /**
   * Streams `body` into the archive as backup `id`, replacing any earlier copy. `expectedSize`
   * (LXD's Content-Length, when sent) catches a cut-off stream.
   * @throws ArchiveWriteError when the archive side fails; the source's own error otherwise.
   */
  async store(id: string, body: Readable, expectedSize: number | null): Promise<ArchivedFile> {
    const final = this.pathOf(id);
    const temporary = path.join(this.dir, `${PARTIAL}${id}-${randomBytes(6).toString('hex')}`);
    try {
      await fs.promises.mkdir(this.dir, { recursive: true });
    } catch (error) {
      body.destroy();
      throw new ArchiveWriteError(error);
    }
    const hash = createHash('sha256');
    let sizeBytes = 0;
    let writeFailure: unknown = null;
    const count = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        sizeBytes += chunk.length;
        done(null, chunk);
      },
    });
    // `flush`: the descriptor is fsync'd before it is closed, so the renamed file is on disk.
    const out = fs.createWriteStream(temporary, { flags: 'wx', flush: true });
    out.on('error', (error) => (writeFailure ??= error));
    try {
      try {
        await pipeline(body, count, out);
      } catch (error) {
        throw writeFailure ? new ArchiveWriteError(writeFailure) : error;
      }
      if (expectedSize !== null && sizeBytes !== expectedSize) {
        throw new CorralError(ErrorCode.LXD_ERROR, `the node sent ${sizeBytes} bytes of a ${expectedSize}-byte backup`);
      }
      try {
        await fs.promises.rename(temporary, final);
        await this.syncDir();
      } catch (error) {
        throw new ArchiveWriteError(error);
      }
    } finally {
      await fs.promises.rm(temporary, { force: true });
    }
    await this.removePartials(id);
    return { sizeBytes, sha256: hash.digest('hex') };
  }

  /** The archived tarball as a stream with its size; null when the file is not there. */
  async open(id: string): Promise<{ size: number; body: Readable } | null> {
    const file = this.pathOf(id);
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    const { size } = await handle.stat();
    return { size, body: handle.createReadStream() };
  }

  /** Whether the archived file is there, whole: its SHA-256 is `sha256` (null: only that it exists). */
  async intact(id: string, sha256: string | null): Promise<boolean> {
    const file = this.pathOf(id);
    if (!fs.existsSync(file)) return false;
    if (sha256 === null) return true;
    const hash = createHash('sha256');
    await pipeline(fs.createReadStream(file), hash);
    return hash.digest('hex') === sha256;
  }

  /** Removes backup `id`'s tarball; a missing one counts as removed. */
  async remove(id: string): Promise<void> {
    await fs.promises.rm(this.pathOf(id), { force: true });
    await this.removePartials(id);
  }

  /** Temporary files a crash left behind for this backup. */
  private async removePartials(id: string) {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.dir);
    } catch {
      return;
    }
    await Promise.all(names.filter((n) => n.startsWith(`${PARTIAL}${id}-`)).map((n) => fs.promises.rm(path.join(this.dir, n), { force: true })));
  }

  private async syncDir() {
    const handle = await fs.promises.open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
