/**
 * The public API of Warren's task layer (the package's main export): the client SDK, the result
 * keeper, the worker, the result stores and the protocol's names and types.
 */
export { connectTasks, type ResultOptions, type TaskHandle, type TasksClient, type TasksClientOptions } from './client.js';
export { startKeeper, type Keeper, type KeeperOptions } from './keeper.js';
export type { KeeperReply, KeeperRequest } from './keeper-protocol.js';
export * from './protocol.js';
export * from './task-errors.js';
export { assertTaskName, resolveTaskOptions, type SubmitOptions } from './task-options.js';
export * from './topology.js';
export * from './store/index.js';
export * from './worker.js';
export { systemClock, type Clock, type ClockTimer } from './clock.js';
export { IDEMPOTENCY_KEY_MAX_LENGTH, IDEMPOTENCY_WINDOW_DEFAULT_MS, type IdempotencyKeyOwner } from './idempotency.js';
export type { RunAt } from './run-at.js';
export { SCHEDULES_MAX, type Schedule, type ScheduleOptions, type ScheduleTaskOptions } from './schedule.js';
export type { IdempotencyKeyClaim, ScheduleSlot, SchedulingStore } from './store/scheduling-store.js';
