/**
 * The Idempotency-Key header of POST /api/tasks/{name}: read and checked here, and a replayed submit's
 * answer, 200 with the existing task's id and state and the header Idempotent-Replayed: true (Stripe's
 * convention), where a new task gets 202.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { IDEMPOTENCY_KEY_MAX_LENGTH } from '../tasks/idempotency.js';
import type { TaskState } from '../tasks/protocol.js';
import { HttpError } from './errors.js';

/** `{ idempotencyKey }` from the request's Idempotency-Key header, or `{}` without one; 400 when it is empty or too long. */
export function idempotencyKeyOption(request: FastifyRequest): { idempotencyKey?: string } {
  const key = request.headers['idempotency-key'];
  if (key === undefined) return {};
  if (typeof key !== 'string' || key.trim() === '' || key.length > IDEMPOTENCY_KEY_MAX_LENGTH) {
    throw new HttpError(400, `Idempotency-Key must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} characters, sent once`);
  }
  return { idempotencyKey: key };
}

/** The answer to a submit whose key was used before: the existing task, 200, marked as a replay. */
export function replayedSubmit(reply: FastifyReply, id: string, state: TaskState): { id: string; state: TaskState; replayed: true } {
  void reply.code(200).header('Idempotent-Replayed', 'true').header('Location', `/api/tasks/${encodeURIComponent(id)}`);
  return { id, state, replayed: true };
}
