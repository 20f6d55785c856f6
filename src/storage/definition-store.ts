/**
 * Durable definitions (runtime-created vhosts, users with hashed passwords, permissions, and durable
 * exchanges, queues and bindings): an append-only log (definitions.log) of put/delete records,
 * each a JSON document inside a CRC-checked record, fsynced before every call returns (definitions
 * change rarely, so a synchronous fsync is affordable and keeps the interface simple). The log is
 * replayed at start, and rewritten atomically as a snapshot of the current state once it has grown to
 * several times that size.
 */
import { join } from 'node:path';
import type {
  DefinitionStore, Definitions, StoredBinding, StoredExchange, StoredPermission, StoredPolicy, StoredQueue, StoredUser, StoredVhost,
} from '../broker/ports.js';
import { Decimal, FrameWriter, Reader, type FieldTable, type FieldValue } from '../codec/index.js';
import { assert, assertNever } from '../util/assert.js';
import type { Logger } from '../util/logger.js';
import { DurableFile } from './durable-file.js';
import { RecordType, encodeRecord, scanRecords } from './records.js';
import { nodeStorageFs, readFileIfExists, writeFileAtomically, type StorageFs } from './storage-fs.js';

/** Name of the definitions log inside the data directory. */
export const DEFINITIONS_FILE = 'definitions.log';

/** Options of the definitions store. */
export interface DefinitionStoreOptions {
  fs?: StorageFs;
  logger?: Logger;
  /** The log is compacted when it exceeds this size and twice its last snapshot (default 1 MiB). */
  compactAboveBytes?: number;
}

/** One change as stored: arguments travel as base64 AMQP field tables, so every value type survives exactly. */
type Change =
  | { op: 'put'; kind: 'exchange'; vhost: string; name: string; type: string; autoDelete: boolean; internal: boolean; arguments: string }
  | { op: 'put'; kind: 'queue'; vhost: string; name: string; autoDelete: boolean; arguments: string }
  | { op: 'put' | 'delete'; kind: 'binding'; vhost: string; source: string; destination: string; destinationKind: 'queue' | 'exchange'; routingKey: string; arguments: string }
  | { op: 'delete'; kind: 'exchange' | 'queue'; vhost: string; name: string }
  | { op: 'put' | 'delete'; kind: 'vhost'; name: string }
  | { op: 'put'; kind: 'user'; username: string; passwordHash: string; tags: string[] }
  | { op: 'delete'; kind: 'user'; username: string }
  | { op: 'put'; kind: 'permission'; username: string; vhost: string; configure: string; write: string; read: string }
  | { op: 'delete'; kind: 'permission'; username: string; vhost: string }
  | { op: 'put'; kind: 'policy'; vhost: string; name: string; pattern: string; applyTo: string; priority: number; definition: string }
  | { op: 'delete'; kind: 'policy'; vhost: string; name: string };

/** The file-backed DefinitionStore. */
export class FileDefinitionStore implements DefinitionStore {
  /** Records skipped at load because they failed their checksum or did not parse. */
  readonly droppedRecords: number;
  /** What load repaired, in words. */
  readonly warnings: string[] = [];
  private readonly files: StorageFs;
  private readonly path: string;
  private readonly compactAboveBytes: number;
  private readonly exchanges = new Map<string, StoredExchange>();
  private readonly queues = new Map<string, StoredQueue>();
  private readonly bindings = new Map<string, StoredBinding>();
  private readonly vhosts = new Map<string, StoredVhost>();
  private readonly users = new Map<string, StoredUser>();
  /** By username NUL vhost. */
  private readonly permissions = new Map<string, StoredPermission>();
  /** By vhost NUL name. */
  private readonly policies = new Map<string, StoredPolicy>();
  private file: DurableFile;
  private snapshotBytes = 0;
  private closed = false;

  /** Opens (creating if needed) the definitions log in `dataDirectory` and replays it. */
  constructor(dataDirectory: string, options: DefinitionStoreOptions = {}) {
    this.files = options.fs ?? nodeStorageFs;
    this.path = join(dataDirectory, DEFINITIONS_FILE);
    this.compactAboveBytes = options.compactAboveBytes ?? 1024 * 1024;
    const data = readFileIfExists(this.files, this.path) ?? Buffer.alloc(0);
    const scan = scanRecords(data, [RecordType.definition]);
    let dropped = scan.corrupt.length;
    for (const region of scan.corrupt) {
      this.warnings.push(`${this.path}: ${region.end - region.start} corrupt bytes at offset ${region.start} skipped`);
    }
    for (const record of scan.records) {
      if (!this.replay(data.subarray(record.payloadStart, record.payloadEnd))) {
        dropped++;
        this.warnings.push(`${this.path}: unreadable definition record at offset ${record.offset} skipped`);
      }
    }
    this.droppedRecords = dropped;
    for (const warning of this.warnings) options.logger?.warn({ path: this.path }, warning);
    this.file = new DurableFile(this.files, this.path, data.length);
    this.snapshotBytes = scan.validEnd;
    // Rewriting drops corrupt bytes, so new records never follow garbage (a torn tail in the middle of the log).
    if (scan.corrupt.length > 0 || data.length === 0) this.compact();
  }

  /** Everything stored (fresh arrays; treat the entries as read-only). */
  load(): Definitions {
    return {
      vhosts: [...this.vhosts.values()],
      users: [...this.users.values()],
      permissions: [...this.permissions.values()],
      exchanges: [...this.exchanges.values()],
      queues: [...this.queues.values()],
      bindings: [...this.bindings.values()],
      policies: [...this.policies.values()],
    };
  }

  /** Records a durable exchange (replacing one of the same name). */
  putExchange(exchange: StoredExchange): void {
    const { vhost, name, type, autoDelete, internal } = exchange;
    this.record({ op: 'put', kind: 'exchange', vhost, name, type, autoDelete, internal, arguments: encodeTable(exchange.arguments) });
  }

  /** Removes an exchange and every binding from or to it. */
  deleteExchange(vhost: string, name: string): void {
    this.record({ op: 'delete', kind: 'exchange', vhost, name });
  }

  /** Records a durable queue (replacing one of the same name). */
  putQueue(queue: StoredQueue): void {
    const { vhost, name, autoDelete } = queue;
    this.record({ op: 'put', kind: 'queue', vhost, name, autoDelete, arguments: encodeTable(queue.arguments) });
  }

  /** Removes a queue and every binding to it. */
  deleteQueue(vhost: string, name: string): void {
    this.record({ op: 'delete', kind: 'queue', vhost, name });
  }

  /** Records a binding (bindings are identified by all their fields, arguments included). */
  putBinding(binding: StoredBinding): void {
    this.record({ op: 'put', ...bindingChange(binding) });
  }

  /** Removes a binding; removing one that does not exist is fine. */
  deleteBinding(binding: StoredBinding): void {
    this.record({ op: 'delete', ...bindingChange(binding) });
  }

  /** Records a runtime-created vhost. */
  putVhost(vhost: StoredVhost): void {
    this.record({ op: 'put', kind: 'vhost', name: vhost.name });
  }

  /** Removes a vhost with every exchange, queue, binding and permission stored in it. */
  deleteVhost(name: string): void {
    this.record({ op: 'delete', kind: 'vhost', name });
  }

  /** Records a user (replacing one of the same name); its permissions are kept. */
  putUser(user: StoredUser): void {
    this.record({ op: 'put', kind: 'user', username: user.username, passwordHash: user.passwordHash, tags: [...user.tags] });
  }

  /** Removes a user and its permissions. */
  deleteUser(username: string): void {
    this.record({ op: 'delete', kind: 'user', username });
  }

  /** Records a user's permission on a vhost (replacing the previous one). */
  putPermission(permission: StoredPermission): void {
    const { username, vhost, configure, write, read } = permission;
    this.record({ op: 'put', kind: 'permission', username, vhost, configure, write, read });
  }

  /** Removes a user's permission on a vhost; removing one that does not exist is fine. */
  deletePermission(username: string, vhost: string): void {
    this.record({ op: 'delete', kind: 'permission', username, vhost });
  }

  /** Records a policy (replacing one of the same name in its vhost). */
  putPolicy(policy: StoredPolicy): void {
    this.record(policyChange(policy));
  }

  /** Removes a policy. */
  deletePolicy(vhost: string, name: string): void {
    this.record({ op: 'delete', kind: 'policy', vhost, name });
  }

  /** Closes the log. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.file.close();
  }

  /** Appends one change, fsyncs it, then applies it: memory never runs ahead of disk. Throws on I/O errors. */
  private record(change: Change): void {
    assert(!this.closed, 'definition change after close');
    const before = this.file.size;
    this.file.enqueue(encodeRecord(RecordType.definition, Buffer.from(JSON.stringify(change))));
    try {
      this.file.writeAndSyncNow();
    } catch (error) {
      // Leave no half-written record for the next append to follow.
      try {
        this.file.truncate(before);
      } catch {
        // The disk is failing; load() would truncate or skip the torn record anyway.
      }
      throw error;
    }
    this.apply(change);
    if (this.file.size > this.compactAboveBytes && this.file.size > 2 * this.snapshotBytes) this.compact();
  }

  /** Parses and applies one stored change; false when it does not parse. */
  private replay(payload: Buffer): boolean {
    let change: Change;
    try {
      change = JSON.parse(payload.toString('utf8')) as Change;
      if (!isChange(change)) return false;
      decodeTable(changeArguments(change)); // validates the table before anything is applied
    } catch {
      return false;
    }
    this.apply(change);
    return true;
  }

  private apply(change: Change): void {
    switch (change.kind) {
      case 'binding': {
        const binding = toBinding(change);
        if (change.op === 'put') this.bindings.set(bindingIdentity(binding), binding);
        else this.bindings.delete(bindingIdentity(binding));
        return;
      }
      case 'exchange':
      case 'queue':
        this.applyExchangeOrQueue(change);
        return;
      case 'vhost':
        if (change.op === 'put') this.vhosts.set(change.name, { name: change.name });
        else this.removeVhost(change.name);
        return;
      case 'user':
        if (change.op === 'put') this.users.set(change.username, { username: change.username, passwordHash: change.passwordHash, tags: change.tags });
        else this.removeUser(change.username);
        return;
      case 'policy': {
        const key = `${change.vhost}\u0000${change.name}`;
        if (change.op === 'delete') this.policies.delete(key);
        else {
          const { vhost, name, pattern, applyTo, priority } = change;
          this.policies.set(key, { vhost, name, pattern, applyTo, priority, definition: JSON.parse(change.definition) as StoredPolicy['definition'] });
        }
        return;
      }
      case 'permission': {
        const key = permissionKey(change.username, change.vhost);
        if (change.op === 'delete') this.permissions.delete(key);
        else this.permissions.set(key, { username: change.username, vhost: change.vhost, configure: change.configure, write: change.write, read: change.read });
        return;
      }
      default:
        assertNever(change);
    }
  }

  private applyExchangeOrQueue(change: Extract<Change, { kind: 'exchange' | 'queue' }>): void {
    const key = `${change.vhost}\u0000${change.name}`;
    if (change.op === 'delete') {
      (change.kind === 'exchange' ? this.exchanges : this.queues).delete(key);
      this.removeBindingsOf(change.vhost, change.name, change.kind);
    } else if (change.kind === 'exchange') {
      const { vhost, name, type, autoDelete, internal } = change;
      this.exchanges.set(key, { vhost, name, type, durable: true, autoDelete, internal, arguments: decodeTable(change.arguments) });
    } else {
      const { vhost, name, autoDelete } = change;
      this.queues.set(key, { vhost, name, durable: true, autoDelete, arguments: decodeTable(change.arguments) });
    }
  }

  /** As RabbitMQ does: deleting a vhost deletes everything in it, and every permission on it. */
  private removeVhost(name: string): void {
    this.vhosts.delete(name);
    for (const map of [this.exchanges, this.queues, this.bindings, this.permissions, this.policies]) {
      for (const [key, entry] of map) if (entry.vhost === name) map.delete(key);
    }
  }

  /** Deleting a user deletes its permissions. */
  private removeUser(username: string): void {
    this.users.delete(username);
    for (const [key, permission] of this.permissions) if (permission.username === username) this.permissions.delete(key);
  }

  /** As RabbitMQ does: deleting an exchange or queue deletes the bindings that mention it. */
  private removeBindingsOf(vhost: string, name: string, kind: 'exchange' | 'queue'): void {
    for (const [key, binding] of this.bindings) {
      if (binding.vhost !== vhost) continue;
      const isSource = kind === 'exchange' && binding.source === name;
      const isDestination = binding.destinationKind === kind && binding.destination === name;
      if (isSource || isDestination) this.bindings.delete(key);
    }
  }

  /** Rewrites the log as one put per live definition (write temp, fsync, rename, fsync directory). */
  private compact(): void {
    const records: Buffer[] = [];
    const put = (change: Change): number => records.push(encodeRecord(RecordType.definition, Buffer.from(JSON.stringify(change))));
    for (const v of this.vhosts.values()) put({ op: 'put', kind: 'vhost', name: v.name });
    for (const u of this.users.values()) put({ op: 'put', kind: 'user', username: u.username, passwordHash: u.passwordHash, tags: u.tags });
    for (const p of this.permissions.values()) put({ op: 'put', kind: 'permission', ...p });
    for (const e of this.exchanges.values()) {
      put({ op: 'put', kind: 'exchange', vhost: e.vhost, name: e.name, type: e.type, autoDelete: e.autoDelete, internal: e.internal, arguments: encodeTable(e.arguments) });
    }
    for (const q of this.queues.values()) put({ op: 'put', kind: 'queue', vhost: q.vhost, name: q.name, autoDelete: q.autoDelete, arguments: encodeTable(q.arguments) });
    for (const b of this.bindings.values()) put({ op: 'put', ...bindingChange(b) });
    for (const p of this.policies.values()) put(policyChange(p));
    const bytes = Buffer.concat(records);
    this.file.close();
    writeFileAtomically(this.files, this.path, bytes);
    this.file = new DurableFile(this.files, this.path, bytes.length);
    this.snapshotBytes = bytes.length;
  }
}

function policyChange(p: StoredPolicy): Change {
  return { op: 'put', kind: 'policy', vhost: p.vhost, name: p.name, pattern: p.pattern, applyTo: p.applyTo, priority: p.priority, definition: JSON.stringify(p.definition) };
}

function bindingChange(b: StoredBinding): Omit<Extract<Change, { kind: 'binding' }>, 'op'> {
  const { vhost, source, destination, destinationKind, routingKey } = b;
  return { kind: 'binding', vhost, source, destination, destinationKind, routingKey, arguments: encodeTable(b.arguments) };
}

function toBinding(change: Extract<Change, { kind: 'binding' }>): StoredBinding {
  const { vhost, source, destination, destinationKind, routingKey } = change;
  return { vhost, source, destination, destinationKind, routingKey, arguments: decodeTable(change.arguments) };
}

/** A binding's identity: every field, arguments compared regardless of key order. */
function bindingIdentity(b: StoredBinding): string {
  return [b.vhost, b.source, b.destinationKind, b.destination, b.routingKey, encodeTable(sortTable(b.arguments))].join('\u0000');
}

function permissionKey(username: string, vhost: string): string {
  return `${username}\u0000${vhost}`;
}

function sortTable(table: FieldTable): FieldTable {
  const sorted = Object.create(null) as FieldTable;
  for (const key of Object.keys(table).sort()) sorted[key] = sortValue(table[key] as FieldValue);
  return sorted;
}

function sortValue(value: FieldValue): FieldValue {
  if (Array.isArray(value)) return value.map(sortValue);
  if (value === null || typeof value !== 'object' || value instanceof Date || value instanceof Decimal || Buffer.isBuffer(value)) return value;
  return sortTable(value);
}

function encodeTable(table: FieldTable): string {
  const writer = new FrameWriter(256);
  writer.writeTable(table);
  return writer.buffer.subarray(0, writer.offset).toString('base64');
}

function decodeTable(base64: string): FieldTable {
  const bytes = Buffer.from(base64, 'base64');
  const reader = new Reader(bytes, 0, bytes.length);
  const table = reader.readTable();
  reader.expectEnd();
  return table;
}

function changeArguments(change: Change): string {
  return 'arguments' in change ? change.arguments : encodeTable({});
}

function isJsonObject(text: unknown): boolean {
  try {
    const value: unknown = JSON.parse(String(text));
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** Checks the shape of a parsed change, so a valid-CRC record from a buggy writer cannot poison the state. */
function isChange(value: unknown): value is Change {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const strings = (...keys: string[]): boolean => keys.every((key) => typeof v[key] === 'string');
  if (v.op !== 'put' && v.op !== 'delete') return false;
  const deleted = v.op === 'delete';
  switch (v.kind) {
    case 'binding':
      return strings('vhost', 'source', 'destination', 'routingKey', 'arguments') && (v.destinationKind === 'queue' || v.destinationKind === 'exchange');
    case 'exchange':
      return deleted ? strings('vhost', 'name') : strings('vhost', 'name', 'type', 'arguments') && typeof v.autoDelete === 'boolean' && typeof v.internal === 'boolean';
    case 'queue':
      return deleted ? strings('vhost', 'name') : strings('vhost', 'name', 'arguments') && typeof v.autoDelete === 'boolean';
    case 'vhost':
      return strings('name');
    case 'user':
      return deleted ? strings('username') : strings('username', 'passwordHash') && Array.isArray(v.tags) && v.tags.every((tag) => typeof tag === 'string');
    case 'permission':
      return deleted ? strings('username', 'vhost') : strings('username', 'vhost', 'configure', 'write', 'read');
    case 'policy':
      return deleted ? strings('vhost', 'name') : strings('vhost', 'name', 'pattern', 'applyTo', 'definition') && typeof v.priority === 'number' && isJsonObject(v.definition);
    default:
      return false;
  }
}
