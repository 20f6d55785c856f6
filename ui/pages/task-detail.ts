/**
 * One task: its state, why it waits (blockedReason), progress, payload, result or error, its state
 * history (GET /api/tasks/{id}/history), and retry and cancel buttons. Refreshes until it is finished.
 */
import { apiPath, callApi, errorMessage, getJson } from '../api.js';
import { el, facts, jsonBlock, replaceChildren, section, type Child } from '../dom.js';
import { actionButton } from '../forms.js';
import { formatDurationMs, formatTime } from '../format.js';
import { every, type Page } from '../page.js';

/** A task as GET /api/tasks/{id} answers (docs/tasks-http.md). */
export interface TaskItem {
  id: string;
  name: string;
  state: string;
  run: number;
  attempts: number;
  maxAttempts: number;
  payload: unknown;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  retryAt?: string;
  result?: unknown;
  error?: { name: string; message: string; retryable: boolean };
  blockedReason?: { kind: string; until?: string; consumers?: number };
  progress?: unknown;
  progressAt?: string;
}

/** One recorded state event (GET /api/tasks/{id}/history). */
interface HistoryEntry {
  kind: string;
  run: number;
  attempt: number;
  at: string;
  worker?: string;
  error?: { name: string; message: string };
  retryAt?: string;
}

const FINISHED = new Set(['succeeded', 'failed', 'dead', 'cancelled']);
const POLL_MS = 2000;
const FOLLOW_AFTER_ACTION_MS = 10_000;

/** The task page. */
export const taskDetailPage: Page = async (root, { segments, signal }) => {
  const id = segments[0] ?? '';
  const taskPath = apiPath('tasks', id);
  const summary = el('div', { id: 'task-summary' });
  const history = el('div', { id: 'task-history' });
  const status = el('p', { class: 'status', role: 'status' });
  // After a retry the record may read as finished until the keeper records the new run: keep polling a while.
  let followUntil = 0;
  const retry = actionButton('Retry', async () => {
    await callApi('POST', `${taskPath}/retry`);
    followUntil = Date.now() + FOLLOW_AFTER_ACTION_MS;
    await refresh();
  }, { status });
  const cancel = actionButton('Cancel', async () => {
    await callApi('DELETE', taskPath);
    await refresh();
  }, { question: 'Cancel this task?', status, danger: true });
  retry.id = 'retry-task';
  cancel.id = 'cancel-task';
  let finished = false;
  const refresh = async (): Promise<void> => {
    const task = await getJson<TaskItem>(taskPath, signal);
    // Both parts change together, so the page never shows a state its history does not list yet.
    const table = await historyTable(taskPath, signal);
    finished = FINISHED.has(task.state);
    retry.disabled = task.state !== 'failed' && task.state !== 'dead';
    cancel.disabled = finished;
    replaceChildren(summary, taskFacts(task));
    replaceChildren(history, table);
  };
  replaceChildren(root, el('h1', {}, 'Task ', el('span', { class: 'name' }, id)), el('div', { class: 'actions' }, retry, cancel), status,
    summary, section('State history', history));
  await refresh();
  every(POLL_MS, signal, async () => {
    if (!finished || Date.now() < followUntil) await refresh();
  });
};

function taskFacts(task: TaskItem): HTMLElement {
  const rows: [string, Child][] = [
    ['Name', task.name], ['State', el('span', { class: `state state-${task.state}`, id: 'task-state' }, task.state)],
    ['Run', String(task.run)], ['Attempts', `${task.attempts} of ${task.maxAttempts}`],
    ['Created', formatTime(task.createdAt)], ['Started', formatTime(task.startedAt)], ['Finished', formatTime(task.finishedAt)],
  ];
  if (task.blockedReason !== undefined) rows.push(['Blocked', el('span', { id: 'blocked-reason' }, blockedText(task.blockedReason))]);
  if (task.retryAt !== undefined) rows.push(['Next attempt', formatTime(task.retryAt)]);
  if (task.progress !== undefined) rows.push(['Progress', progressView(task.progress, task.progressAt)]);
  rows.push(['Payload', jsonBlock(task.payload)]);
  if (task.result !== undefined) rows.push(['Result', jsonBlock(task.result)]);
  if (task.error !== undefined) rows.push(['Error', el('span', { class: 'error' }, `${task.error.name}: ${task.error.message}${task.error.retryable ? ' (retryable)' : ''}`)]);
  if (task.startedAt !== undefined && task.finishedAt !== undefined) {
    rows.push(['Processing', formatDurationMs(Date.parse(task.finishedAt) - Date.parse(task.startedAt))]);
  }
  return facts(rows);
}

/** A person's reading of a queued task's blockedReason. */
function blockedText(reason: NonNullable<TaskItem['blockedReason']>): string {
  switch (reason.kind) {
    case 'delayed': return `delayed until ${formatTime(reason.until)}`;
    case 'retry_backoff': return `waiting for its next attempt at ${formatTime(reason.until)}`;
    case 'no_worker': return 'no worker consumes this task name';
    case 'workers_busy': return `${reason.consumers ?? 0} worker(s) consume it, none has taken it yet`;
    default: return reason.kind;
  }
}

function progressView(progress: unknown, at: string | undefined): HTMLElement {
  const when = at === undefined ? '' : ` at ${formatTime(at)}`;
  if (typeof progress === 'number') {
    return el('span', { id: 'task-progress' }, el('progress', { max: 100, value: progress }), ` ${progress}%${when}`);
  }
  return el('span', { id: 'task-progress' }, jsonBlock(progress), when);
}

async function historyTable(taskPath: string, signal: AbortSignal): Promise<HTMLElement> {
  let entries: HistoryEntry[];
  try {
    entries = await getJson<HistoryEntry[]>(`${taskPath}/history`, signal);
  } catch (error) {
    return el('p', { class: 'error' }, errorMessage(error));
  }
  return el('table', { class: 'list history' },
    el('thead', {}, el('tr', {}, ...['When', 'Event', 'Run', 'Attempt', 'Worker', 'Detail'].map((title) => el('th', {}, title)))),
    el('tbody', {}, ...entries.map((entry) => el('tr', { 'data-kind': entry.kind },
      el('td', {}, formatTime(entry.at)), el('td', {}, el('span', { class: `state state-${entry.kind}` }, entry.kind)),
      el('td', {}, String(entry.run)), el('td', {}, String(entry.attempt)), el('td', {}, entry.worker ?? ''),
      el('td', {}, entry.error === undefined ? (entry.retryAt === undefined ? '' : `retry at ${formatTime(entry.retryAt)}`) : `${entry.error.name}: ${entry.error.message}`)))));
}
