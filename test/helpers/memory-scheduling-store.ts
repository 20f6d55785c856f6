/**
 * SchedulingStore in memory, for MemoryResultStore: the same rules as the SQL stores (a key is taken
 * over only when expired or abandoned; a slot is claimed once, only while no later one is), kept in
 * maps. One JavaScript turn per call makes every claim atomic, as one SQL statement is.
 */
import type { IdempotencyKeyOwner } from '../../src/tasks/idempotency.js';
import type { Schedule } from '../../src/tasks/schedule.js';
import type { IdempotencyKeyClaim, ScheduleSlot, SchedulingStore } from '../../src/tasks/store/scheduling-store.js';

interface HeldKey {
  id: string;
  claimedAt: number;
  expiresAt: number;
}

/** Idempotency keys, schedules and slots in maps; `hasTask` tells whether a task id has a record. */
export class MemorySchedulingStore implements SchedulingStore {
  private readonly keys = new Map<string, HeldKey>();
  private readonly schedules = new Map<string, Schedule>();
  private readonly slots = new Map<string, ScheduleSlot & { submittedAt?: number }>();

  constructor(private readonly hasTask: (id: string) => boolean) {}

  async claimIdempotencyKey(claim: IdempotencyKeyClaim): Promise<IdempotencyKeyOwner> {
    const name = keyOf(claim.name, claim.key);
    const held = this.keys.get(name);
    const free = held === undefined || held.expiresAt <= claim.claimedAt || (held.claimedAt <= claim.abandonedBefore && !this.hasTask(held.id));
    if (free) this.keys.set(name, { id: claim.id, claimedAt: claim.claimedAt, expiresAt: claim.expiresAt });
    const owner = this.keys.get(name)?.id ?? claim.id;
    return { id: owner, replayed: owner !== claim.id };
  }

  async releaseIdempotencyKey(release: { name: string; key: string; id: string }): Promise<boolean> {
    const name = keyOf(release.name, release.key);
    if (this.keys.get(name)?.id !== release.id) return false;
    return this.keys.delete(name);
  }

  async deleteExpiredIdempotencyKeys(now: number): Promise<number> {
    let deleted = 0;
    for (const [name, held] of this.keys) if (held.expiresAt <= now && this.keys.delete(name)) deleted += 1;
    return deleted;
  }

  async putSchedule(schedule: Schedule): Promise<Schedule> {
    const existing = this.schedules.get(schedule.id);
    const stored = structuredClone({ ...schedule, createdAt: existing?.createdAt ?? schedule.createdAt });
    this.schedules.set(schedule.id, stored);
    return structuredClone(stored);
  }

  async getSchedule(id: string): Promise<Schedule | undefined> {
    const schedule = this.schedules.get(id);
    return schedule === undefined ? undefined : structuredClone(schedule);
  }

  async listSchedules(): Promise<Schedule[]> {
    return [...this.schedules.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((schedule) => structuredClone(schedule));
  }

  async deleteSchedule(id: string): Promise<boolean> {
    for (const [name, slot] of this.slots) if (slot.scheduleId === id) this.slots.delete(name);
    return this.schedules.delete(id);
  }

  async claimScheduleSlot(slot: ScheduleSlot): Promise<boolean> {
    if (!this.schedules.has(slot.scheduleId)) return false;
    for (const other of this.slots.values()) if (other.scheduleId === slot.scheduleId && other.slotAt >= slot.slotAt) return false;
    this.slots.set(keyOf(slot.scheduleId, String(slot.slotAt)), { ...slot });
    return true;
  }

  async markScheduleSlotSubmitted(slot: { scheduleId: string; slotAt: number; submittedAt: number }): Promise<void> {
    const stored = this.slots.get(keyOf(slot.scheduleId, String(slot.slotAt)));
    if (stored !== undefined) stored.submittedAt = slot.submittedAt;
  }

  async reclaimScheduleSlots(reclaim: { claimedBefore: number; claimedAt: number }): Promise<ScheduleSlot[]> {
    const taken: ScheduleSlot[] = [];
    for (const slot of this.slots.values()) {
      if (slot.submittedAt !== undefined || slot.claimedAt >= reclaim.claimedBefore) continue;
      slot.claimedAt = reclaim.claimedAt;
      taken.push({ scheduleId: slot.scheduleId, slotAt: slot.slotAt, taskId: slot.taskId, claimedAt: slot.claimedAt });
    }
    return taken;
  }

  async deleteScheduleSlotsBefore(slotBefore: number): Promise<number> {
    const latest = new Map<string, number>();
    for (const slot of this.slots.values()) latest.set(slot.scheduleId, Math.max(latest.get(slot.scheduleId) ?? -Infinity, slot.slotAt));
    let deleted = 0;
    for (const [name, slot] of this.slots) {
      if (slot.submittedAt !== undefined && slot.slotAt < slotBefore && slot.slotAt < (latest.get(slot.scheduleId) ?? -Infinity)) {
        this.slots.delete(name);
        deleted += 1;
      }
    }
    return deleted;
  }
}

function keyOf(first: string, second: string): string {
  return JSON.stringify([first, second]);
}
