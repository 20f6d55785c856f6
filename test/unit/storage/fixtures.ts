/**
 * Shared helpers for the storage tests: temporary directories, a file system that counts fsyncs and
 * fails on demand, and small message builders.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredMessage } from '../../../src/broker/ports.js';
import type { SyncTarget } from '../../../src/storage/durable-file.js';
import { nodeStorageFs, type StorageFs, type SyncCallback } from '../../../src/storage/storage-fs.js';

/** Creates a temporary directory and registers it for removal. */
export function temporaryDirectory(cleanups: (() => void)[]): string {
  const path = mkdtempSync(join(tmpdir(), 'warren-storage-'));
  cleanups.push(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

/** A file system that counts sync calls and can be told to fail the next few. */
export interface FaultyFs {
  fs: StorageFs;
  /** `write` counts writes of records; `zeroWrite` the zeros a segment log writes ahead of its appends. */
  counts: { fdatasync: number; fsync: number; fsyncSync: number; write: number; zeroWrite: number; unlinkSync: number; unlink: number };
  /** Error codes the next fdatasync calls fail with, in order. */
  failSyncs: string[];
  /** Error codes the next writeSync calls of records fail with, in order. */
  failWrites: string[];
  /** Error codes the next writeSync calls of zeros fail with, in order. */
  failZeroWrites: string[];
  /** While true, fdatasync completions are held in `held` until the test runs them. */
  holdSyncs: boolean;
  held: (() => void)[];
}

function errno(code: string): NodeJS.ErrnoException {
  const error = new Error(`${code}: injected by the test`) as NodeJS.ErrnoException;
  error.code = code;
  return error;
}

/** Wraps the real file system with counters and injected failures. */
export function faultyFs(): FaultyFs {
  const state: FaultyFs = {
    fs: nodeStorageFs,
    counts: { fdatasync: 0, fsync: 0, fsyncSync: 0, write: 0, zeroWrite: 0, unlinkSync: 0, unlink: 0 },
    failSyncs: [],
    failWrites: [],
    failZeroWrites: [],
    holdSyncs: false,
    held: [],
  };
  state.fs = {
    ...nodeStorageFs,
    writeSync: (fd, buffer, offset, length, position) => {
      // No record is all zeros (its header holds a type, never 0), so this tells the two kinds of write apart.
      const zeros = buffer.subarray(offset, offset + length).every((byte) => byte === 0);
      state.counts[zeros ? 'zeroWrite' : 'write']++;
      const code = (zeros ? state.failZeroWrites : state.failWrites).shift();
      if (code !== undefined) throw errno(code);
      return nodeStorageFs.writeSync(fd, buffer, offset, length, position);
    },
    fdatasync: (fd: number, callback: SyncCallback) => {
      state.counts.fdatasync++;
      const code = state.failSyncs.shift();
      const complete: SyncCallback = (error) => {
        if (state.holdSyncs) state.held.push(() => callback(error));
        else callback(error);
      };
      if (code !== undefined) setImmediate(() => complete(errno(code)));
      else nodeStorageFs.fdatasync(fd, complete);
    },
    fsync: (fd: number, callback: SyncCallback) => {
      state.counts.fsync++;
      nodeStorageFs.fsync(fd, callback);
    },
    fsyncSync: (fd: number) => {
      state.counts.fsyncSync++;
      nodeStorageFs.fsyncSync(fd);
    },
    unlinkSync: (path: string) => {
      state.counts.unlinkSync++;
      nodeStorageFs.unlinkSync(path);
    },
    unlink: (path: string, callback: (error: NodeJS.ErrnoException | null) => void) => {
      state.counts.unlink++;
      nodeStorageFs.unlink(path, callback);
    },
  };
  return state;
}

/** A persistent message whose body says `text`. */
export function message(text: string, routingKey = 'rk'): StoredMessage {
  return { exchange: 'amq.direct', routingKey, rawProperties: Buffer.from([0x10, 0x00, 0x02]), body: Buffer.from(text) };
}

/** The body of a stored message as text. */
export function bodyText(stored: StoredMessage | undefined): string {
  if (stored === undefined) return '<paged out>';
  return stored.body.toString('utf8');
}

/** Files in a directory with the given extension, sorted. */
export function filesWith(directory: string, extension: string): string[] {
  return readdirSync(directory)
    .filter((name) => name.endsWith(extension))
    .sort();
}

/** Total size in bytes of the files in a directory with the given extension. */
export function bytesOf(directory: string, extension: string): number {
  return filesWith(directory, extension).reduce((sum, name) => sum + statSync(join(directory, name)).size, 0);
}

/** Fsyncs every target and resolves with the first error (what a group-commit round does). */
export function syncAll(targets: SyncTarget[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let remaining = targets.length;
    let failure: Error | undefined;
    if (remaining === 0) resolve();
    for (const target of targets) {
      target.sync((error) => {
        failure ??= error ?? undefined;
        if (--remaining === 0) {
          if (failure === undefined) resolve();
          else reject(failure);
        }
      });
    }
  });
}

/** Flips bits of the byte at `offset` of a file, as a failing disk might. */
export function flipByte(path: string, offset: number, mask = 0xff): void {
  const bytes = readFileSync(path);
  bytes[offset] = (bytes[offset] as number) ^ mask;
  writeFileSync(path, bytes);
}
