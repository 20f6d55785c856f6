/**
 * The node's message storage: one directory per durable queue under <data dir>/queues, and group
 * commit. Every sync() call made in one event-loop turn joins one round: flush (write) every dirty
 * queue, fsync every file written in parallel on the libuv thread pool, then call every waiting
 * callback. Calls made while a round is in flight wait for the next round, so a thousand publishers
 * cost one round of fsyncs, not a thousand.
 *
 * Publisher confirms wait only for appended messages (syncAppended). A round that serves only them
 * still writes acknowledgements and delivery marks to their files, so a crash of the process loses
 * none, but fsyncs those files only once autoSyncIntervalMs has passed since they were last fsynced:
 * each fsync costs the machine real CPU time, and a busy queue's ack file would otherwise take one
 * in every round. Only a crash of the machine can then bring back a message acknowledged in the last
 * autoSyncIntervalMs, the bound that already held for changes nobody waits for.
 */
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { MessageStore, QueueMessageStore, QueueRecovery } from '../broker/ports.js';
import { assert } from '../util/assert.js';
import type { Logger } from '../util/logger.js';
import type { SyncTarget } from './durable-file.js';
import { QueueStore, type QueueStoreHost } from './queue-store.js';
import { SEGMENT_SIZE_DEFAULT_BYTES, removeSegmentFiles, type SegmentFiles } from './segment-log.js';
import { fsyncDirectory, nodeStorageFs, readFileIfExists, toError, writeFileAtomically, type StorageFs } from './storage-fs.js';

/** Directory under the data directory holding one directory per durable queue. */
export const QUEUES_DIRECTORY = 'queues';
/** Directory under the data directory where non-durable queues page messages out; emptied at every start. */
export const TRANSIENT_DIRECTORY = 'transient';
/** File in each queue directory naming its vhost and queue (the directory name is a hash). */
export const QUEUE_NAME_FILE = 'QUEUE';

/** Knobs of the message store; every one has a default. */
export interface MessageStoreOptions {
  /** Largest segment file (default 8 MiB): the unit in which disk space is reclaimed. */
  segmentSizeBytes?: number;
  /** Buffered bytes across all queues that start a round even if nobody called sync() (default 4 MiB). */
  autoSyncBytes?: number;
  /**
   * Longest time unsynced changes wait for a round when nobody calls sync(), and acknowledgements for
   * an fsync while only syncAppended() is called (default 200 ms).
   */
  autoSyncIntervalMs?: number;
  fs?: StorageFs;
  logger?: Logger;
}

/** Counters for diagnostics and tests. */
export interface MessageStoreStats {
  /** Group-commit rounds run. */
  rounds: number;
  /** Files and directories fsynced, over all rounds. */
  fsyncs: number;
  /** Rounds that delivered an error. */
  failedRounds: number;
}

type SyncCallback = (error: Error | undefined) => void;

/** Directory name of a queue: a hash, so any vhost and queue name (slashes, dots, 255 bytes) is a safe path. */
export function queueDirectoryName(vhost: string, name: string): string {
  return createHash('sha256').update(vhost).update('\u0000').update(name).digest('hex').slice(0, 32);
}

/** The file-backed MessageStore. */
export class FileMessageStore implements MessageStore, QueueStoreHost {
  /** Counters since construction. */
  readonly stats: MessageStoreStats = { rounds: 0, fsyncs: 0, failedRounds: 0 };
  private readonly files: StorageFs;
  private readonly queuesDirectory: string;
  private readonly transientDirectory: string;
  private transientCounter = 0;
  private readonly segmentSizeBytes: number;
  private readonly autoSyncBytes: number;
  private readonly autoSyncIntervalMs: number;
  /** Open queue stores by directory path. */
  private readonly open = new Map<string, QueueStore>();
  private readonly dirtyQueues = new Set<QueueStore>();
  /** Callbacks waiting for everything to be durable (sync). */
  private waiting: SyncCallback[] = [];
  /** Callbacks waiting for appended messages only (syncAppended). */
  private waitingForAppends: SyncCallback[] = [];
  /** When the last round that fsynced acknowledgements started. */
  private marksSyncedAt = 0;
  private bufferedBytes = 0;
  private roundScheduled = false;
  private roundInFlight = false;
  private roundWanted = false;
  private timer: NodeJS.Timeout | undefined;
  private disposals: { queue: QueueStore; path: string }[] = [];
  private deletedCounter = 0;
  private closed = false;

  /** Opens the message store of the data directory at `dataDirectory` (which the caller has locked). */
  constructor(
    dataDirectory: string,
    private readonly options: MessageStoreOptions = {},
  ) {
    this.files = options.fs ?? nodeStorageFs;
    this.segmentSizeBytes = options.segmentSizeBytes ?? SEGMENT_SIZE_DEFAULT_BYTES;
    this.autoSyncBytes = options.autoSyncBytes ?? 4 * 1024 * 1024;
    this.autoSyncIntervalMs = options.autoSyncIntervalMs ?? 200;
    // Offsets in ack records are u32, and a record starts only below the segment size.
    assert(this.segmentSizeBytes >= 64 && this.segmentSizeBytes <= 2 ** 31, 'segmentSizeBytes must be between 64 B and 2 GiB');
    this.queuesDirectory = join(dataDirectory, QUEUES_DIRECTORY);
    this.files.mkdirSync(this.queuesDirectory, { recursive: true });
    // Directories renamed aside by queue.delete just before a stop are finished off now.
    for (const entry of this.files.readdirSync(this.queuesDirectory)) {
      if (entry.includes('.deleted')) this.files.rmSync(join(this.queuesDirectory, entry), { recursive: true, force: true });
    }
    // What non-durable queues paged out before a stop died with them.
    this.transientDirectory = join(dataDirectory, TRANSIENT_DIRECTORY);
    this.files.rmSync(this.transientDirectory, { recursive: true, force: true });
  }

  /** Opens (creating if needed) the store of one durable queue and recovers what it holds. */
  openQueue(vhost: string, name: string, bodiesInMemory?: number): { store: QueueMessageStore; recovery: QueueRecovery } {
    assert(!this.closed, 'openQueue on a closed message store');
    const directory = join(this.queuesDirectory, queueDirectoryName(vhost, name));
    assert(!this.open.has(directory), `queue ${name} in vhost ${vhost} is already open`);
    this.claimDirectory(directory, vhost, name);
    const opened = this.openDirectory(directory, vhost, name, bodiesInMemory);
    // Recovery may have found dead segments to delete; the next round does that.
    if (opened.store.dirty) this.markDirty(opened.store, 0);
    return opened;
  }

  /** Opens a store in which a non-durable queue pages messages out; it does not outlive the broker. */
  openTransientQueue(vhost: string, name: string): QueueMessageStore {
    assert(!this.closed, 'openTransientQueue on a closed message store');
    const directory = join(this.transientDirectory, String(++this.transientCounter));
    this.files.mkdirSync(directory, { recursive: true });
    return this.openDirectory(directory, vhost, name, 0).store;
  }

  private openDirectory(directory: string, vhost: string, name: string, bodiesInMemory: number | undefined): { store: QueueStore; recovery: QueueRecovery } {
    const opened = QueueStore.open(directory, vhost, name, {
      fs: this.files,
      segmentSizeBytes: this.segmentSizeBytes,
      host: this,
      ...(bodiesInMemory === undefined ? {} : { bodiesInMemory }),
      ...(this.options.logger === undefined ? {} : { logger: this.options.logger.child({ vhost, queue: name }) }),
    });
    this.open.set(directory, opened.store);
    return opened;
  }

  /** The queues that have a directory on disk, open or not (to find ones whose definition is gone). */
  listQueues(): { vhost: string; name: string }[] {
    const found: { vhost: string; name: string }[] = [];
    for (const entry of this.files.readdirSync(this.queuesDirectory)) {
      if (entry.includes('.')) continue;
      const identity = readIdentity(this.files, join(this.queuesDirectory, entry));
      if (identity !== undefined) found.push(identity);
    }
    return found;
  }

  /** Deletes the files of a queue that is not open (an orphan left by a crash between definition delete and destroy). */
  removeQueue(vhost: string, name: string): void {
    const directory = join(this.queuesDirectory, queueDirectoryName(vhost, name));
    assert(!this.open.has(directory), 'removeQueue of an open queue: use its store.destroy()');
    this.files.rmSync(directory, { recursive: true, force: true });
  }

  /** Calls `onDurable` once everything appended and acked so far (in every queue) is fsynced. */
  sync(onDurable: SyncCallback): void {
    this.enlist(this.waiting, onDurable);
  }

  /** Calls `onDurable` once every message appended so far (in every queue) is fsynced. */
  syncAppended(onDurable: SyncCallback): void {
    this.enlist(this.waitingForAppends, onDurable);
  }

  private enlist(list: SyncCallback[], onDurable: SyncCallback): void {
    if (this.closed) {
      setImmediate(onDurable, new Error('message store is closed'));
      return;
    }
    list.push(onDurable);
    this.requestRound();
  }

  /** Flushes, fsyncs and closes every file; rejects with the last round's error, if any (files are closed anyway). */
  async close(): Promise<void> {
    if (this.closed) return;
    const error = await new Promise<Error | undefined>((resolve) => this.sync(resolve));
    this.shutDown();
    if (error !== undefined) throw error;
  }

  /** Closes every file without flushing, as a crash would leave them (for crash-recovery tests). */
  closeWithoutFlush(): void {
    if (this.closed) return;
    assert(!this.roundInFlight, 'closeWithoutFlush during a round');
    this.shutDown();
  }

  /** QueueStoreHost: a queue has unflushed changes. */
  markDirty(queue: QueueStore, bytes: number): void {
    this.dirtyQueues.add(queue);
    this.bufferedBytes += bytes;
    if (this.bufferedBytes >= this.autoSyncBytes) this.requestRound();
    else this.armTimer();
  }

  /**
   * QueueStoreHost: queue.delete. The directory is renamed aside at once (atomic, and made durable), so
   * a crash cannot leave half a queue behind and a queue declared again with the same name starts empty;
   * the renamed directory is removed when no fsync of its files is in flight.
   */
  destroyQueue(queue: QueueStore): void {
    this.open.delete(queue.directory);
    this.dirtyQueues.delete(queue);
    const aside = `${queue.directory}.deleted-${process.pid}-${++this.deletedCounter}`;
    this.files.renameSync(queue.directory, aside);
    fsyncDirectory(this.files, dirname(queue.directory));
    this.disposals.push({ queue, path: aside });
    if (!this.roundInFlight) this.dispose();
  }

  private claimDirectory(directory: string, vhost: string, name: string): void {
    const identity = readIdentity(this.files, directory);
    if (identity !== undefined) {
      if (identity.vhost !== vhost || identity.name !== name) {
        throw new Error(`queue directory ${directory} belongs to queue ${identity.name} in vhost ${identity.vhost} (hash collision)`);
      }
      return;
    }
    this.files.mkdirSync(directory, { recursive: true });
    writeFileAtomically(this.files, join(directory, QUEUE_NAME_FILE), Buffer.from(`${JSON.stringify({ vhost, name })}\n`));
    fsyncDirectory(this.files, this.queuesDirectory);
  }

  /** Makes sure unsynced changes get a round within autoSyncIntervalMs even if nobody calls sync(). */
  private armTimer(): void {
    if (this.timer !== undefined || this.roundScheduled || this.roundInFlight || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.requestRound();
    }, this.autoSyncIntervalMs);
    this.timer.unref();
  }

  private requestRound(): void {
    if (this.roundInFlight) {
      this.roundWanted = true;
      return;
    }
    if (this.roundScheduled) return;
    this.roundScheduled = true;
    // setImmediate runs after the I/O callbacks of this loop turn, so every publisher served in it joins.
    setImmediate(() => this.runRound());
  }

  /** One group-commit round: write everything dirty, fsync it all in parallel, then call back. */
  private runRound(): void {
    this.roundScheduled = false;
    this.roundInFlight = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.stats.rounds++;
    const now = Date.now();
    // Rounds nobody waits for (timer, buffered bytes) make everything durable, as does any sync() caller.
    const syncMarks = this.waiting.length > 0 || this.waitingForAppends.length === 0 || now - this.marksSyncedAt >= this.autoSyncIntervalMs;
    if (syncMarks) this.marksSyncedAt = now;
    const callbacks = this.waiting.length === 0 ? this.waitingForAppends : this.waitingForAppends.concat(this.waiting);
    this.waiting = [];
    this.waitingForAppends = [];
    const queues = [...this.dirtyQueues];
    this.dirtyQueues.clear();
    this.bufferedBytes = 0;
    const targets: SyncTarget[] = [];
    const errors: Error[] = [];
    for (const queue of queues) {
      try {
        queue.flush(targets, syncMarks);
      } catch (error) {
        errors.push(toError(error));
      }
    }
    this.stats.fsyncs += targets.length;
    let remaining = targets.length;
    const finish = (): void => this.finishRound(queues, callbacks, errors);
    if (remaining === 0) {
      finish();
      return;
    }
    for (const target of targets) {
      target.sync((error) => {
        if (error !== null) errors.push(error);
        if (--remaining === 0) finish();
      });
    }
  }

  private finishRound(queues: QueueStore[], callbacks: SyncCallback[], errors: Error[]): void {
    const removals: SegmentFiles[] = [];
    for (const queue of queues) {
      queue.afterSync(removals);
      // Whatever is still dirty failed to write or fsync: it is retried by a later round.
      if (queue.dirty) this.markDirty(queue, 0);
    }
    if (removals.length === 0) {
      this.endRound(callbacks, errors);
      return;
    }
    // Dead segments are unlinked off the event loop; the round (and its callbacks) ends once they are gone.
    let remaining = removals.length;
    for (const removal of removals) {
      removeSegmentFiles(this.files, removal, () => {
        if (--remaining === 0) this.endRound(callbacks, errors);
      });
    }
  }

  private endRound(callbacks: SyncCallback[], errors: Error[]): void {
    this.roundInFlight = false;
    this.dispose();
    const error = errors.length === 0 ? undefined : roundError(errors);
    if (error !== undefined) {
      this.stats.failedRounds++;
      this.options.logger?.error({ error: error.message }, 'storage write or fsync failed; publishers waiting on it get an error');
    }
    if (this.roundWanted || this.waiting.length > 0 || this.waitingForAppends.length > 0) {
      this.roundWanted = false;
      this.requestRound();
    } else if (this.dirtyQueues.size > 0) {
      // Changes made while this round was in flight (and failed ones above) still need a round.
      this.armTimer();
    }
    let thrown: unknown;
    for (const callback of callbacks) {
      try {
        callback(error);
      } catch (callbackError) {
        thrown ??= callbackError;
      }
    }
    // A throwing callback is a bug in the caller: surface it, but only after every other caller was answered.
    if (thrown !== undefined) throw thrown;
  }

  private dispose(): void {
    const disposals = this.disposals;
    this.disposals = [];
    for (const { queue, path } of disposals) {
      queue.close();
      try {
        this.files.rmSync(path, { recursive: true, force: true });
      } catch (error) {
        // The directory is already out of the way; the next start removes it.
        this.options.logger?.warn({ path, error: String(error) }, 'could not remove a deleted queue directory');
      }
    }
  }

  private shutDown(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const queue of this.open.values()) queue.close();
    this.open.clear();
    this.dirtyQueues.clear();
    this.dispose();
  }
}

function roundError(errors: Error[]): Error {
  const first = errors[0] as Error;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return new Error(`storage write/fsync failed: ${first.message}${more}`, { cause: first });
}

function readIdentity(files: StorageFs, directory: string): { vhost: string; name: string } | undefined {
  const bytes = readFileIfExists(files, join(directory, QUEUE_NAME_FILE));
  if (bytes === undefined) return undefined;
  try {
    const value = JSON.parse(bytes.toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null && 'vhost' in value && 'name' in value) {
      const { vhost, name } = value;
      if (typeof vhost === 'string' && typeof name === 'string') return { vhost, name };
    }
  } catch {
    // Unparseable: treated as absent, and rewritten when the queue is opened.
  }
  return undefined;
}
