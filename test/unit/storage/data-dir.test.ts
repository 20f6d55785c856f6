/**
 * The data directory: created when missing, stamped with VERSION, locked against a second broker (in
 * this process or another), a stale lock of a dead process taken over, a newer format refused.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { DataDir, DataDirLockedError, LOCK_FILE, STORAGE_FORMAT_VERSION, VERSION_FILE } from '../../../src/storage/data-dir.js';
import type { Logger } from '../../../src/util/logger.js';
import { temporaryDirectory } from './fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    error: (_context, text) => lines.push(text),
    warn: (_context, text) => lines.push(text),
    info: () => undefined,
    debug: () => undefined,
    child: () => logger,
  };
  return logger;
}

test('a missing directory is created with VERSION and a LOCK holding our pid, released on close', () => {
  const path = join(temporaryDirectory(cleanups), 'data', 'nested');
  const dir = DataDir.open(path);
  assert.equal(readFileSync(join(path, VERSION_FILE), 'utf8').trim(), String(STORAGE_FORMAT_VERSION));
  assert.equal(readFileSync(join(path, LOCK_FILE), 'utf8').trim(), String(process.pid));
  dir.close();
  assert.equal(existsSync(join(path, LOCK_FILE)), false);
  DataDir.open(path).close();
});

test('a second open in the same process is refused', () => {
  const path = temporaryDirectory(cleanups);
  const dir = DataDir.open(path);
  try {
    assert.throws(() => DataDir.open(path), (error: unknown) => error instanceof DataDirLockedError && error.message.includes(path));
  } finally {
    dir.close();
  }
});

test('a lock held by another live process is refused with the directory and that pid in the message', async () => {
  const path = temporaryDirectory(cleanups);
  DataDir.open(path).close();
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    const pid = holder.pid as number;
    writeFileSync(join(path, LOCK_FILE), `${pid}\n`);
    assert.throws(
      () => DataDir.open(path),
      (error: unknown) =>
        error instanceof DataDirLockedError && error.pid === pid && error.message.includes(path) && error.message.includes(`process ${pid}`),
    );
    assert.equal(readFileSync(join(path, LOCK_FILE), 'utf8').trim(), String(pid), 'the holder keeps its lock');
  } finally {
    holder.kill();
  }
});

test('a stale lock whose process is gone is taken over, and the takeover is logged', () => {
  const path = temporaryDirectory(cleanups);
  DataDir.open(path).close();
  const exited = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(exited.stdout);
  writeFileSync(join(path, LOCK_FILE), `${deadPid}\n`);
  const lines: string[] = [];
  const dir = DataDir.open(path, { logger: recordingLogger(lines) });
  try {
    assert.equal(dir.staleLockPid, deadPid);
    assert.equal(readFileSync(join(path, LOCK_FILE), 'utf8').trim(), String(process.pid));
    assert.ok(lines.some((line) => line.includes('stale lock') && line.includes(String(deadPid))), lines.join('\n'));
  } finally {
    dir.close();
  }
});

test('a lock file with our own pid (a previous incarnation) is stale', () => {
  const path = temporaryDirectory(cleanups);
  DataDir.open(path).close();
  writeFileSync(join(path, LOCK_FILE), `${process.pid}\n`);
  const dir = DataDir.open(path);
  assert.equal(dir.staleLockPid, process.pid);
  dir.close();
});

test('a lock file without a pid is not guessed at', () => {
  const path = temporaryDirectory(cleanups);
  DataDir.open(path).close();
  writeFileSync(join(path, LOCK_FILE), 'garbage');
  assert.throws(() => DataDir.open(path), (error: unknown) => error instanceof DataDirLockedError && /without a readable pid/.test(error.message));
});

test('a newer format version is refused and the lock is not left behind', () => {
  const path = temporaryDirectory(cleanups);
  writeFileSync(join(path, VERSION_FILE), `${STORAGE_FORMAT_VERSION + 1}\n`);
  assert.throws(() => DataDir.open(path), /newer than this Warren supports/);
  assert.equal(existsSync(join(path, LOCK_FILE)), false);
});

test('a non-empty directory without VERSION is not taken for a data directory', () => {
  const path = temporaryDirectory(cleanups);
  mkdirSync(join(path, 'photos'));
  assert.throws(() => DataDir.open(path), /not a Warren data directory/);
});
