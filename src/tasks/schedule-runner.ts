/**
 * Fires cron schedules from a keeper. On every wake-up it reads the schedules from the store, claims the
 * latest slot of each that is due and not yet claimed, and submits that slot's task; then it sleeps until
 * the next slot of any schedule, or until the next poll (to learn schedules another keeper defined).
 *
 * Once per slot: a slot fires only for the keeper whose claim inserted it (unique constraint on
 * (schedule id, slot time)). A keeper that dies, or loses the broker, between its claim and the publish
 * leaves the slot claimed but not submitted; after the claim lease any keeper takes it over and submits
 * it with the same task id, so the slot is late but not lost (and, if the first keeper did publish just
 * before dying, the task runs at least once, as any task does). Missed slots (no keeper ran) are not
 * replayed in a burst: only the latest one that is due fires, once.
 */
import { newTaskId } from './task-id.js';
import type { Logger } from '../util/logger.js';
import type { Clock, ClockTimer } from './clock.js';
import { latestSlotAtOrBefore, nextSlotAfter } from './cron.js';
import type { Schedule } from './schedule.js';
import type { ScheduleSlot, SchedulingStore } from './store/scheduling-store.js';

/** Options of a ScheduleRunner. */
export interface ScheduleRunnerOptions {
  store: SchedulingStore;
  clock: Clock;
  /** Publishes the task of a claimed slot (its id is slot.taskId); resolves once the broker confirmed it. */
  submit(schedule: Schedule, slot: ScheduleSlot): Promise<void>;
  logger: Logger;
  /** Longest sleep between two reads of the schedules (default 5000 ms). */
  pollIntervalMs?: number;
  /** How long a claimed, unsubmitted slot belongs to its keeper before another may take it (default 60000 ms). */
  claimLeaseMs?: number;
}

const POLL_INTERVAL_DEFAULT_MS = 5000;
const CLAIM_LEASE_DEFAULT_MS = 60_000;
/** Submitted slots are kept a day (each schedule's latest always), then deleted with expired keys hourly. */
const SLOT_KEEP_MS = 24 * 60 * 60 * 1000;
const CLEANUP_INTERVAL_MS = 60 * 60 * 1000;

/** The loop that fires schedules in one keeper. */
export class ScheduleRunner {
  private timer: ClockTimer | undefined;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();
  /** Per schedule, the latest slot this keeper saw claimed (by itself or another): no need to claim again. */
  private readonly claimedUpTo = new Map<string, number>();
  private lastCleanupAt = Number.NEGATIVE_INFINITY;
  private readonly pollIntervalMs: number;
  private readonly claimLeaseMs: number;

  constructor(private readonly options: ScheduleRunnerOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? POLL_INTERVAL_DEFAULT_MS;
    this.claimLeaseMs = options.claimLeaseMs ?? CLAIM_LEASE_DEFAULT_MS;
  }

  /** Runs a pass now (schedules changed, or the keeper just started); resolves when it is done. */
  wake(): Promise<void> {
    // Passes run one after another, never two at once in one keeper.
    const pass = this.running.then(() => this.pass());
    this.running = pass;
    return pass;
  }

  /** Stops firing; resolves once a pass in progress has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }

  /** One pass: take over abandoned slots, fire due ones, clean up now and then, and sleep. Never throws. */
  private async pass(): Promise<void> {
    if (this.stopped) return;
    this.timer?.cancel();
    const now = this.options.clock.now();
    let schedules: Schedule[] = [];
    try {
      schedules = await this.options.store.listSchedules();
      this.forgetRemoved(schedules);
      await this.resubmitAbandoned(schedules, now);
      for (const schedule of schedules) await this.fireDue(schedule, now);
      await this.cleanUp(now);
    } catch (error) {
      this.options.logger.error({ err: (error as Error).message }, 'schedule pass failed; trying again at the next poll');
    }
    this.sleep(schedules, now);
  }

  /** Claims the latest due slot of `schedule`, if no keeper did, and submits its task. */
  private async fireDue(schedule: Schedule, now: number): Promise<void> {
    const due = latestSlotAtOrBefore(schedule.cron, schedule.tz, now);
    // Slots before the definition (or its last change) never fire, and neither does one already claimed.
    if (due === undefined || due < schedule.updatedAt || due <= (this.claimedUpTo.get(schedule.id) ?? Number.NEGATIVE_INFINITY)) return;
    const slot: ScheduleSlot = { scheduleId: schedule.id, slotAt: due, taskId: newTaskId(now), claimedAt: now };
    const claimed = await this.options.store.claimScheduleSlot(slot);
    this.claimedUpTo.set(schedule.id, due);
    if (claimed) await this.submit(schedule, slot);
  }

  /** Drops what this keeper remembers of schedules that no longer exist. */
  private forgetRemoved(schedules: readonly Schedule[]): void {
    const ids = new Set(schedules.map((schedule) => schedule.id));
    for (const id of this.claimedUpTo.keys()) if (!ids.has(id)) this.claimedUpTo.delete(id);
  }

  /** Slots claimed longer than the lease ago and never submitted: their keeper is gone, so submit them. */
  private async resubmitAbandoned(schedules: readonly Schedule[], now: number): Promise<void> {
    const slots = await this.options.store.reclaimScheduleSlots({ claimedBefore: now - this.claimLeaseMs, claimedAt: now });
    for (const slot of slots) {
      const schedule = schedules.find((candidate) => candidate.id === slot.scheduleId);
      if (schedule === undefined) continue;
      this.options.logger.warn({ schedule: slot.scheduleId, slotAt: slot.slotAt }, 'submitting a slot another keeper claimed but never submitted');
      await this.submit(schedule, slot);
    }
  }

  /** Submits a claimed slot's task; on failure the slot stays unsubmitted, and is taken over after the lease. */
  private async submit(schedule: Schedule, slot: ScheduleSlot): Promise<void> {
    try {
      await this.options.submit(schedule, slot);
      await this.options.store.markScheduleSlotSubmitted({ scheduleId: slot.scheduleId, slotAt: slot.slotAt, submittedAt: this.options.clock.now() });
      this.options.logger.debug({ schedule: schedule.id, slotAt: slot.slotAt, id: slot.taskId }, 'scheduled task submitted');
    } catch (error) {
      this.options.logger.warn({ schedule: schedule.id, slotAt: slot.slotAt, err: (error as Error).message }, 'could not submit a scheduled task; it is retried after the claim lease');
    }
  }

  /** Hourly: deletes old submitted slots and expired idempotency keys. */
  private async cleanUp(now: number): Promise<void> {
    if (now - this.lastCleanupAt < CLEANUP_INTERVAL_MS) return;
    this.lastCleanupAt = now;
    await this.options.store.deleteScheduleSlotsBefore(now - SLOT_KEEP_MS);
    await this.options.store.deleteExpiredIdempotencyKeys(now);
  }

  /** Sleeps until the next slot of any schedule, or the next poll, whichever comes first. */
  private sleep(schedules: readonly Schedule[], now: number): void {
    if (this.stopped) return;
    let wakeAt = now + this.pollIntervalMs;
    for (const schedule of schedules) {
      const next = nextSlotAfter(schedule.cron, schedule.tz, now);
      if (next !== undefined && next < wakeAt) wakeAt = next;
    }
    this.timer = this.options.clock.setTimer(() => this.wake(), wakeAt - this.options.clock.now());
  }
}
