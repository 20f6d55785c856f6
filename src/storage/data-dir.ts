/**
 * The data directory: created if missing, locked so that one broker at a time uses it, and stamped
 * with the storage format version so that an older Warren never misreads a newer layout.
 */
import { resolve, join } from 'node:path';
import type { Logger } from '../util/logger.js';
import { OPEN, hasErrorCode, readFileIfExists, unlinkIfExists, writeFileAtomically, writeFully, nodeStorageFs, type StorageFs } from './storage-fs.js';

/** The on-disk format this code writes and the newest it can read. */
export const STORAGE_FORMAT_VERSION = 1;
/** Name of the lock file inside the data directory; it holds the owner's pid. */
export const LOCK_FILE = 'LOCK';
/** Name of the format version file inside the data directory. */
export const VERSION_FILE = 'VERSION';

/** Thrown when another process (or this one) already holds the data directory. */
export class DataDirLockedError extends Error {
  /** Creates the error for `directory`, held by `pid`. */
  constructor(
    readonly directory: string,
    readonly pid: number | undefined,
    detail: string,
  ) {
    super(`data directory ${directory} is in use: ${detail}`);
    this.name = 'DataDirLockedError';
  }
}

/** Options for DataDir.open. */
export interface DataDirOptions {
  fs?: StorageFs;
  logger?: Logger;
}

/** Paths held open by this process, so a second open in the same process is refused too. */
const heldHere = new Set<string>();

/** Returns true when a process with this pid exists (EPERM means it exists but belongs to someone else). */
export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !hasErrorCode(error, 'ESRCH');
  }
}

/** An open, locked, versioned data directory. */
export class DataDir {
  private closed = false;

  private constructor(
    /** Absolute path of the directory. */
    readonly path: string,
    private readonly files: StorageFs,
    /** Pid of the dead process whose stale lock was taken over, if any. */
    readonly staleLockPid: number | undefined,
  ) {}

  /** Opens (creating if missing) and locks a data directory; throws DataDirLockedError when it is in use. */
  static open(path: string, options: DataDirOptions = {}): DataDir {
    const files = options.fs ?? nodeStorageFs;
    const directory = resolve(path);
    if (heldHere.has(directory)) throw new DataDirLockedError(directory, process.pid, 'it is already open in this process');
    files.mkdirSync(directory, { recursive: true });
    const stalePid = acquireLock(files, directory);
    heldHere.add(directory);
    try {
      checkVersion(files, directory);
    } catch (error) {
      heldHere.delete(directory);
      unlinkIfExists(files, join(directory, LOCK_FILE));
      throw error;
    }
    if (stalePid !== undefined) {
      options.logger?.warn({ directory, stalePid }, `took over a stale lock on ${directory}: process ${stalePid} is not running`);
    }
    return new DataDir(directory, files, stalePid);
  }

  /** Releases the lock. The stores opened on this directory must be closed first. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    heldHere.delete(this.path);
    unlinkIfExists(this.files, join(this.path, LOCK_FILE));
  }
}

/**
 * Creates the lock file atomically with its content: the pid goes into a private temporary file that is
 * then hard-linked to LOCK, and link(2) fails with EEXIST if LOCK exists. (A plain O_EXCL create would
 * leave an empty LOCK if the process died before writing its pid, and nobody could tell whose it was.)
 * Returns the pid of a stale lock that was taken over.
 */
function acquireLock(files: StorageFs, directory: string): number | undefined {
  const lockPath = join(directory, LOCK_FILE);
  const temporary = join(directory, `${LOCK_FILE}.${process.pid}.tmp`);
  const fd = files.openSync(temporary, OPEN.writeCreateTruncate, 0o644);
  try {
    writeFully(files, fd, Buffer.from(`${process.pid}\n`), 0);
  } finally {
    files.closeSync(fd);
  }
  let stalePid: number | undefined;
  try {
    // A few attempts cover a holder that exits (or a rival that takes over) between our steps.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        files.linkSync(temporary, lockPath);
        return stalePid;
      } catch (error) {
        if (!hasErrorCode(error, 'EEXIST')) throw error;
      }
      const holder = readLockHolder(files, lockPath);
      if (holder === 'gone') continue;
      // Our own pid can only be a previous incarnation's (opens in this process are caught earlier): a
      // container restarted after a crash often gets the same pid again.
      if (holder === 'unreadable' || (holder !== process.pid && processIsAlive(holder))) throw lockedError(files, directory);
      if (takeOverStaleLock(files, lockPath, holder)) stalePid = holder;
    }
    throw lockedError(files, directory);
  } finally {
    unlinkIfExists(files, temporary);
  }
}

/**
 * Removes a stale lock, guarding against a race with another starter doing the same: the lock is
 * renamed aside (atomic, so only one process gets it) and its pid checked again; if a fresh lock was
 * caught instead, it is linked back. Returns true when the stale lock was removed.
 */
function takeOverStaleLock(files: StorageFs, lockPath: string, stalePid: number): boolean {
  const aside = `${lockPath}.stale.${process.pid}`;
  try {
    files.renameSync(lockPath, aside);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return false;
    throw error;
  }
  const caught = readLockHolder(files, aside);
  if (caught !== stalePid) {
    try {
      files.linkSync(aside, lockPath);
    } catch {
      // Someone else locked the directory meanwhile; the next attempt reports them.
    }
  }
  unlinkIfExists(files, aside);
  return caught === stalePid;
}

/** The pid in a lock file, 'gone' when there is no file, 'unreadable' when it holds no pid. */
function readLockHolder(files: StorageFs, path: string): number | 'gone' | 'unreadable' {
  const bytes = readFileIfExists(files, path);
  if (bytes === undefined) return 'gone';
  const text = bytes.toString('utf8').trim();
  return /^\d+$/.test(text) ? Number(text) : 'unreadable';
}

function lockedError(files: StorageFs, directory: string): DataDirLockedError {
  const lockPath = join(directory, LOCK_FILE);
  const holder = readLockHolder(files, lockPath);
  const pid = typeof holder === 'number' ? holder : undefined;
  const who = pid === undefined ? 'a lock file without a readable pid' : `process ${pid}`;
  return new DataDirLockedError(directory, pid, `it is locked by ${who} (${lockPath}); is another Warren running on it? If not, remove the lock file`);
}

/** Writes VERSION in a new directory; refuses a newer format and directories that are not Warren's. */
function checkVersion(files: StorageFs, directory: string): void {
  const versionPath = join(directory, VERSION_FILE);
  const text = readFileIfExists(files, versionPath)?.toString('utf8').trim();
  if (text === undefined) {
    const others = files.readdirSync(directory).filter((name) => !name.startsWith(LOCK_FILE) && !name.startsWith(VERSION_FILE));
    if (others.length > 0) {
      throw new Error(`${directory} is not empty and has no ${VERSION_FILE} file: not a Warren data directory (found ${others.slice(0, 3).join(', ')})`);
    }
    writeFileAtomically(files, versionPath, Buffer.from(`${STORAGE_FORMAT_VERSION}\n`));
    return;
  }
  if (!/^\d+$/.test(text)) throw new Error(`${versionPath} is unreadable (${JSON.stringify(text.slice(0, 40))}); refusing to open ${directory}`);
  const version = Number(text);
  if (version > STORAGE_FORMAT_VERSION) {
    throw new Error(
      `${directory} uses storage format version ${version}, newer than this Warren supports (${STORAGE_FORMAT_VERSION}); upgrade Warren`,
    );
  }
  if (version < 1) throw new Error(`${versionPath} holds an invalid version ${version}`);
}
