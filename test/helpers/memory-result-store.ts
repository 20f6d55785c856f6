/**
 * An in-memory ResultStore for tests of the client and the keeper: it keeps records and history in
 * maps and moves records with the same transition the real stores share (applyEvent), so it stands in
 * for the keeper's store honestly. `failApplies` makes the next n apply() calls fail, to test how the
 * keeper copes with a store that refuses events.
 */
import { TERMINAL_STATES, type TaskEvent } from '../../src/tasks/protocol.js';
import { applyEvent } from '../../src/tasks/store/apply-event.js';
import { applyProgress } from '../../src/tasks/store/apply-progress.js';
import type { TaskProgressEvent } from '../../src/tasks/task-progress.js';
import type { ResultStore, TaskQuery, TaskRecord } from '../../src/tasks/store/result-store.js';
import { MemoryWebhookDeliveries } from './memory-webhook-deliveries.js';
import { MemorySchedulingStore } from './memory-scheduling-store.js';

/** A ResultStore in memory. */
export class MemoryResultStore implements ResultStore {
  /** apply() calls still to fail (each failure counts one down). */
  failApplies = 0;
  /** Events apply() was called with, failed ones included, in call order. */
  readonly applied: TaskEvent[] = [];
  private readonly records = new Map<string, TaskRecord>();
  private readonly histories = new Map<string, TaskEvent[]>();
  private closed = false;
  readonly webhooks = new MemoryWebhookDeliveries();

  async apply(event: TaskEvent): Promise<TaskRecord> {
    this.assertOpen();
    this.applied.push(event);
    if (this.failApplies > 0) {
      this.failApplies -= 1;
      throw new Error('memory store: apply failed on purpose');
    }
    const current = this.records.get(event.id);
    const next = applyEvent(current, structuredClone(event)) ?? current;
    if (next === undefined) throw new Error(`applyEvent gave no record for new task ${event.id}`);
    this.records.set(event.id, next);
    const history = this.histories.get(event.id) ?? [];
    history.push(structuredClone(event));
    this.histories.set(event.id, history);
    return structuredClone(next);
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    this.assertOpen();
    const record = this.records.get(id);
    return record === undefined ? undefined : structuredClone(record);
  }

  async list(query: TaskQuery): Promise<TaskRecord[]> {
    this.assertOpen();
    const offset = query.offset ?? 0;
    return [...this.records.values()]
      .filter((record) => (query.name === undefined || record.name === query.name) && (query.state === undefined || record.state === query.state))
      .sort((a, b) => b.createdAt - a.createdAt)
      .slice(offset, offset + (query.limit ?? 100))
      .map((record) => structuredClone(record));
  }

  async history(id: string): Promise<TaskEvent[]> {
    this.assertOpen();
    return structuredClone(this.histories.get(id) ?? []);
  }

  async deleteFinishedBefore(finishedBefore: number): Promise<number> {
    this.assertOpen();
    let deleted = 0;
    for (const [id, record] of this.records) {
      if (TERMINAL_STATES.includes(record.state) && record.finishedAt !== undefined && record.finishedAt < finishedBefore) {
        this.records.delete(id);
        this.histories.delete(id);
        deleted += 1;
      }
    }
    return deleted;
  }

  async recordProgress(event: TaskProgressEvent): Promise<TaskRecord | undefined> {
    this.assertOpen();
    const current = this.records.get(event.id);
    const next = applyProgress(current, structuredClone(event));
    if (next !== undefined) this.records.set(event.id, next);
    const record = next ?? current;
    return record === undefined ? undefined : structuredClone(record);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('memory store is closed');
  }

  /** Idempotency keys and schedules in maps too (memory-scheduling-store.ts). */
  readonly scheduling = new MemorySchedulingStore((id) => this.records.has(id));
}
