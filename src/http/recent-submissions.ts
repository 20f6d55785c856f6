/**
 * Tasks this gateway submitted that the result keeper may not have recorded yet. The keeper learns of
 * a task from its 'queued' event a moment after the broker confirmed it, so a client polling at once
 * could otherwise get 404 for a task it was just told is queued; until the keeper knows the task, GET
 * reports it from here as queued.
 */
import type { TaskOptions } from '../tasks/protocol.js';
import type { TaskRecord } from '../tasks/store/result-store.js';

/** Most submissions remembered; the oldest go first. */
const REMEMBERED_MAX = 10_000;
/** How long a submission is remembered: far longer than any keeper takes to record it. */
const REMEMBERED_MS = 60_000;

/** A bounded, short-lived memory of submissions, oldest first. */
export class RecentSubmissions {
  private readonly byId = new Map<string, TaskRecord>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Remembers a task just submitted. */
  add(id: string, name: string, payload: unknown, options: TaskOptions): void {
    const at = this.now();
    this.byId.set(id, { id, name, state: 'queued', run: 1, attempts: 0, payload, options, createdAt: at, updatedAt: at });
    if (this.byId.size > REMEMBERED_MAX) this.byId.delete(this.byId.keys().next().value as string);
  }

  /** The queued record of a task submitted within the last minute, if any. */
  get(id: string): TaskRecord | undefined {
    this.dropExpired();
    return this.byId.get(id);
  }

  /** Forgets a task (the keeper knows it now). */
  forget(id: string): void {
    this.byId.delete(id);
  }

  private dropExpired(): void {
    const oldest = this.now() - REMEMBERED_MS;
    for (const [id, record] of this.byId) {
      if (record.createdAt >= oldest) break;
      this.byId.delete(id);
    }
  }
}
