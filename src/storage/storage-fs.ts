/**
 * The file-system calls storage makes, behind a small interface so tests can count fsyncs and inject
 * EIO/ENOSPC without touching a real failing disk. Production code passes `nodeStorageFs`.
 */
import * as fs from 'node:fs';
import { dirname } from 'node:path';

/** Callback of an asynchronous fsync/fdatasync. */
export type SyncCallback = (error: NodeJS.ErrnoException | null) => void;

/** The subset of node:fs that storage uses. */
export interface StorageFs {
  openSync(path: string, flags: number, mode?: number): number;
  closeSync(fd: number): void;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  ftruncateSync(fd: number, length: number): void;
  fsyncSync(fd: number): void;
  /** Flushes file data (and the size) to stable storage on the libuv thread pool. */
  fdatasync(fd: number, callback: SyncCallback): void;
  /** Flushes a file or directory, metadata included, on the libuv thread pool. */
  fsync(fd: number, callback: SyncCallback): void;
  readFileSync(path: string): Buffer;
  readdirSync(path: string): string[];
  mkdirSync(path: string, options: { recursive: true }): unknown;
  unlinkSync(path: string): void;
  /** Removes a file on the libuv thread pool. */
  unlink(path: string, callback: (error: NodeJS.ErrnoException | null) => void): void;
  renameSync(from: string, to: string): void;
  linkSync(existing: string, created: string): void;
  rmSync(path: string, options: { recursive: true; force: true }): void;
}

/** The real file system. */
export const nodeStorageFs: StorageFs = {
  openSync: (path, flags, mode) => fs.openSync(path, flags, mode),
  closeSync: (fd) => fs.closeSync(fd),
  readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
  writeSync: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  ftruncateSync: (fd, length) => fs.ftruncateSync(fd, length),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  fdatasync: (fd, callback) => fs.fdatasync(fd, callback),
  fsync: (fd, callback) => fs.fsync(fd, callback),
  readFileSync: (path) => fs.readFileSync(path),
  readdirSync: (path) => fs.readdirSync(path),
  mkdirSync: (path, options) => fs.mkdirSync(path, options),
  unlinkSync: (path) => fs.unlinkSync(path),
  unlink: (path, callback) => fs.unlink(path, callback),
  renameSync: (from, to) => fs.renameSync(from, to),
  linkSync: (existing, created) => fs.linkSync(existing, created),
  rmSync: (path, options) => fs.rmSync(path, options),
};

/** open(2) flags used by storage. */
export const OPEN = {
  readWriteCreate: fs.constants.O_RDWR | fs.constants.O_CREAT,
  readWrite: fs.constants.O_RDWR,
  readOnly: fs.constants.O_RDONLY,
  writeCreateTruncate: fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC,
  writeCreateExclusive: fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL,
} as const;

/** True when `error` is a Node system error with the given code (ENOENT, EEXIST, ...). */
export function hasErrorCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/** Wraps anything thrown into an Error. */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Writes all of `bytes` at `position`, looping over short writes. */
export function writeFully(files: StorageFs, fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += files.writeSync(fd, bytes, done, bytes.length - done, position + done);
}

/** Reads up to `length` bytes at `position`, looping over short reads; stops early only at end of file. */
export function readFully(files: StorageFs, fd: number, length: number, position: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = files.readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? buffer : buffer.subarray(0, done);
}

/** Reads a whole file, or returns undefined when it does not exist. */
export function readFileIfExists(files: StorageFs, path: string): Buffer | undefined {
  try {
    return files.readFileSync(path);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/** Removes a file; a file that is already gone is fine. */
export function unlinkIfExists(files: StorageFs, path: string): void {
  try {
    files.unlinkSync(path);
  } catch (error) {
    if (!hasErrorCode(error, 'ENOENT')) throw error;
  }
}

/**
 * Removes files one after another on the libuv thread pool (a file that is already gone is fine), then
 * calls back with the first other error; files after a failed one are still tried.
 */
export function unlinkInOrder(files: StorageFs, paths: readonly string[], callback: (error: Error | undefined) => void): void {
  let failure: Error | undefined;
  const next = (index: number): void => {
    const path = paths[index];
    if (path === undefined) {
      callback(failure);
      return;
    }
    files.unlink(path, (error) => {
      if (error !== null && error.code !== 'ENOENT') failure ??= error;
      next(index + 1);
    });
  };
  next(0);
}

/**
 * Fsyncs a directory so that files created, renamed or removed in it are durable: POSIX makes a new
 * file's name durable only when its directory is synced, not when the file is.
 */
export function fsyncDirectory(files: StorageFs, path: string): void {
  const fd = files.openSync(path, OPEN.readOnly);
  try {
    files.fsyncSync(fd);
  } finally {
    files.closeSync(fd);
  }
}

/**
 * Replaces a file atomically: write a temporary file, fsync it, rename it over the target, fsync the
 * directory. A crash at any point leaves either the whole old file or the whole new one.
 */
export function writeFileAtomically(files: StorageFs, path: string, bytes: Uint8Array): void {
  const temporary = `${path}.tmp`;
  const fd = files.openSync(temporary, OPEN.writeCreateTruncate, 0o644);
  try {
    writeFully(files, fd, bytes, 0);
    files.fsyncSync(fd);
  } finally {
    files.closeSync(fd);
  }
  files.renameSync(temporary, path);
  fsyncDirectory(files, dirname(path));
}
