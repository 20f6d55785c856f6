/** Which rows of the SQLite tasks table retention deletes (the store's and the webhook deliveries' deletes share it). */
import { TERMINAL_STATES } from '../protocol.js';

/**
 * The tasks retention deletes: in a terminal state, finished before @before. Through tasks_by_state (a
 * range of each terminal state, up to the same time of creation, which comes before the finish: a task
 * whose worker's clock runs behind its submitter's goes at a later pass), so that finish times need no
 * index of their own.
 */
export const SQLITE_FINISHED_TASKS =
  `state IN (${TERMINAL_STATES.map((state) => `'${state}'`).join(', ')}) AND created_at < @before AND finished_at < @before`;
