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
export { WebhookVerificationError, signWebhook, verifyWebhook, type VerifyWebhookOptions, type WebhookRequestHeaders, type WebhookSignatureHeaders } from './webhooks/webhook-signature.js';
export { endpointSecret, loadWebhookSigningKey, webhookEndpoint } from './webhooks/webhook-endpoint.js';
export { DEFAULT_WEBHOOK_POLICY, type WebhookDeliveryPolicy } from './webhooks/webhook-policy.js';
export type { WebhookOptions } from './webhooks/webhook-dispatcher.js';
export type { WebhookAttempt, WebhookDeliveryState, WebhookStatus } from './webhooks/webhook-delivery.js';
export * from './task-progress.js';
export { TASK_CONTROL_EXCHANGE, TaskCancelledError, cancelRoutingKey, type CancelNotice } from './task-cancellation.js';
export type { ProgressListener } from './client-progress.js';
export { systemClock, type Clock, type ClockTimer } from './clock.js';
export { IDEMPOTENCY_KEY_MAX_LENGTH, IDEMPOTENCY_WINDOW_DEFAULT_MS, type IdempotencyKeyOwner } from './idempotency.js';
export type { RunAt } from './run-at.js';
export { SCHEDULES_MAX, type Schedule, type ScheduleOptions, type ScheduleTaskOptions } from './schedule.js';
export type { IdempotencyKeyClaim, ScheduleSlot, SchedulingStore } from './store/scheduling-store.js';
