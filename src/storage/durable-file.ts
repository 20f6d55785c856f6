/**
 * One append-only file whose appended bytes are kept in memory until an fsync has made them durable.
 * Writes are positional (pwrite, never O_APPEND), so a failed or partial write is simply repeated at the
 * same offset later, and a failed fsync (EIO) causes the same bytes to be written again: after an fsync
 * error Linux may have dropped the dirty pages, so a retried fsync alone would falsely report success.
 */
import { assert } from '../util/assert.js';
import { OPEN, readFully, writeFully, type StorageFs, type SyncCallback } from './storage-fs.js';

/** A zero-filled buffer writeZeros writes from. */
const ZEROS = Buffer.alloc(256 * 1024);

interface Chunk {
  position: number;
  bytes: Buffer;
  written: boolean;
}

/** Something a group-commit round fsyncs. */
export interface SyncTarget {
  /** Starts an asynchronous fsync and calls back once it finished (with the error, if any). */
  sync(callback: SyncCallback): void;
}

/** An append-only file with chunks awaiting write and fsync. */
export class DurableFile implements SyncTarget {
  /** Logical size: bytes on disk plus bytes queued for writing. */
  size: number;
  private fd: number | undefined;
  private readonly chunks: Chunk[] = [];
  private syncing = false;

  /** Wraps an existing file of `size` valid bytes; opens it lazily. */
  constructor(
    private readonly files: StorageFs,
    readonly path: string,
    size: number,
  ) {
    this.size = size;
  }

  /** True when some appended bytes are not yet durable. */
  get dirty(): boolean {
    return this.chunks.length > 0;
  }

  /** True when appended bytes wait to be written (write() has work). */
  get unwritten(): boolean {
    return this.chunks.some((chunk) => !chunk.written);
  }

  /** How many appended bytes wait to be written. */
  get unwrittenBytes(): number {
    let bytes = 0;
    for (const chunk of this.chunks) if (!chunk.written) bytes += chunk.bytes.length;
    return bytes;
  }

  /** True while an fsync of this file is in flight: it must not be closed. */
  get busy(): boolean {
    return this.syncing;
  }

  /** Queues bytes for writing at the end of the file; the buffer must not change afterwards. Returns their position. */
  enqueue(bytes: Buffer): number {
    const position = this.size;
    if (bytes.length > 0) this.chunks.push({ position, bytes, written: false });
    this.size += bytes.length;
    return position;
  }

  /** Writes every queued chunk; throws the write error (ENOSPC, EIO), leaving the rest queued for a retry. */
  write(): void {
    for (const chunk of this.chunks) {
      if (chunk.written) continue;
      writeFully(this.files, this.open(), chunk.bytes, chunk.position);
      chunk.written = true;
    }
  }

  /** Fsyncs the data written so far; on failure, marks it for rewriting. */
  sync(callback: SyncCallback): void {
    assert(!this.syncing, 'overlapping fsync of one file');
    let covered = 0;
    while (covered < this.chunks.length && (this.chunks[covered] as Chunk).written) covered++;
    this.syncing = true;
    this.files.fdatasync(this.open(), (error) => {
      this.syncing = false;
      if (error === null) this.chunks.splice(0, covered);
      else for (const chunk of this.chunks) chunk.written = false;
      callback(error);
    });
  }

  /** Writes and fsyncs synchronously (for rare changes such as definitions); throws on failure. */
  writeAndSyncNow(): void {
    this.write();
    try {
      this.files.fsyncSync(this.open());
    } catch (error) {
      for (const chunk of this.chunks) chunk.written = false;
      throw error;
    }
    this.chunks.length = 0;
  }

  /** Reads `length` bytes at `position` (fewer at end of file), from queued chunks or the file. */
  readAt(position: number, length: number): Buffer {
    const end = Math.min(position + length, this.size);
    for (const chunk of this.chunks) {
      if (position >= chunk.position && end <= chunk.position + chunk.bytes.length) {
        return Buffer.from(chunk.bytes.subarray(position - chunk.position, end - chunk.position));
      }
    }
    // The range crosses chunk boundaries: take what the file has, then lay any queued (maybe unwritten) bytes over it.
    const result = Buffer.alloc(Math.max(0, end - position));
    readFully(this.files, this.open(), result.length, position).copy(result);
    for (const chunk of this.chunks) {
      const from = Math.max(position, chunk.position);
      const to = Math.min(end, chunk.position + chunk.bytes.length);
      if (from < to) chunk.bytes.copy(result, from - position, from - chunk.position, to - chunk.position);
    }
    return result;
  }

  /**
   * Writes `length` zero bytes at `position`, at or past the logical end: room made on disk ahead of
   * later appends (see SegmentLog). The logical size does not change, and the zeros need no fsync of
   * their own. Throws the write error.
   */
  writeZeros(position: number, length: number): void {
    assert(position >= this.size, 'zeros over appended bytes');
    const fd = this.open();
    for (let done = 0; done < length; ) {
      const bytes = Math.min(length - done, ZEROS.length);
      writeFully(this.files, fd, ZEROS.subarray(0, bytes), position + done);
      done += bytes;
    }
  }

  /** Drops everything after `size`: bytes on disk and queued chunks alike. */
  truncate(size: number): void {
    assert(!this.syncing, 'truncating a file being synced');
    this.files.ftruncateSync(this.open(), size);
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      if ((this.chunks[i] as Chunk).position >= size) this.chunks.splice(i, 1);
    }
    this.size = Math.min(this.size, size);
  }

  /** Creates the file now (if missing) and keeps it open. */
  create(): void {
    this.open();
  }

  /** True when the file holds an open descriptor. */
  get isOpen(): boolean {
    return this.fd !== undefined;
  }

  /** Closes the descriptor (queued bytes stay queued and the file reopens on demand). */
  close(): void {
    assert(!this.syncing, 'closing a file being synced');
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    this.files.closeSync(fd);
  }

  private open(): number {
    this.fd ??= this.files.openSync(this.path, OPEN.readWriteCreate, 0o644);
    return this.fd;
  }
}

/**
 * A directory to fsync in the next round, because a file in it was created: POSIX makes a new name
 * durable only when its directory is synced. `onFailure` re-arms the caller's "directory dirty" flag.
 */
export function directorySyncTarget(files: StorageFs, path: string, onFailure: () => void): SyncTarget {
  return {
    sync(callback: SyncCallback): void {
      let fd: number;
      try {
        fd = files.openSync(path, OPEN.readOnly);
      } catch (error) {
        onFailure();
        callback(error as NodeJS.ErrnoException);
        return;
      }
      files.fsync(fd, (error) => {
        try {
          files.closeSync(fd);
        } catch {
          // Closing a read-only directory descriptor cannot lose data; the fsync result is what matters.
        }
        if (error !== null) onFailure();
        callback(error);
      });
    },
  };
}
