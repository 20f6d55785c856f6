/**
 * The 'succeeded' event and reply of a task attempt, written as JSON text by hand: the result's JSON is
 * made once and goes into both bodies (JSON.stringify of the two objects would encode it twice, and a
 * big result is the costliest part of either). The text is what JSON.stringify gives for the TaskEvent
 * and TaskReply objects the protocol describes, members in the same order (test/unit/tasks/success-bodies.test.ts).
 */
import { TASK_PROTOCOL_VERSION } from './protocol.js';
import type { TaskHeaders } from './worker-message.js';

/** The JSON bodies that record a success. */
export interface EncodedSuccess {
  event: string;
  /** The reply's body; '' when the task asked for no reply. */
  reply: string;
}

/**
 * The bodies of a success with `result`, recorded `at`, whose handler started at `startedAt`, on worker
 * `workerIdJson` (the id as JSON text), the reply's only `withReply` (most tasks of a busy submitter ask
 * for none); throws a TypeError when JSON cannot carry the result.
 */
export function successBodies(
  task: Pick<TaskHeaders, 'id' | 'name' | 'run' | 'attempt'>, result: unknown, at: number, startedAt: number, workerIdJson: string, withReply = true,
): EncodedSuccess {
  // Through an object, so that the result is encoded exactly as a member of one: toJSON gets the key
  // 'result', and a result JSON has no text for (undefined, a function) leaves the member out: '{}'.
  const wrapped = JSON.stringify({ result });
  const resultMember = wrapped.length > 2 ? `,${wrapped.slice(1, -1)}` : '';
  const id = JSON.stringify(task.id);
  const name = JSON.stringify(task.name);
  const event =
    `{"protocol":${TASK_PROTOCOL_VERSION},"kind":"succeeded","id":${id},"name":${name},"run":${task.run},"attempt":${task.attempt},` +
    `"at":${at}${resultMember},"startedAt":${startedAt},"worker":${workerIdJson}}`;
  const reply = withReply ? `{"protocol":${TASK_PROTOCOL_VERSION},"id":${id},"name":${name},"attempt":${task.attempt},"state":"succeeded"${resultMember}}` : '';
  return { event, reply };
}
