/**
 * Tasks: per task name throughput and latency charts (GET /api/tasks/stats, the keeper's last-60-s
 * window, sampled every 3 s) and the task list filtered by name and state, paged with limit/offset and
 * refreshed as often;
 * `#/tasks/{id}` shows one task.
 */
import { ApiError, errorMessage, getJson } from '../api.js';
import { LiveChart } from '../chart.js';
import { el, pageHash, pageLink, replaceChildren, section } from '../dom.js';
import { formatDurationMs, formatNumber, formatTime } from '../format.js';
import { every, type Page } from '../page.js';
import { taskDetailPage, type TaskItem } from './task-detail.js';

interface LatencyStats {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
}

interface PeriodStats {
  finished: number;
  succeeded: number;
  failed: number;
  throughputPerSecond: number;
  responseMs?: LatencyStats;
}

type TaskStats = Record<string, { sinceStart: PeriodStats; windows: Record<string, PeriodStats> }>;

const STATES = ['', 'queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled'];
const PAGE_SIZE = 50;
/** Task names charted at most (the busiest first). */
const CHARTED_NAMES_MAX = 8;
const STATS_POLL_MS = 3000;

/** The tasks page, or one task's page. */
export const tasksPage: Page = async (root, context) => {
  const [id] = context.segments;
  if (id !== undefined) return taskDetailPage(root, context);
  const statsArea = el('div', { id: 'task-stats', class: 'charts' });
  const list = taskList(context.query);
  replaceChildren(root, el('h1', {}, 'Tasks'), section('Throughput and latency per task name (last 60 s)', statsArea), section('Tasks', list.element));
  const charts = new Map<string, { throughput: LiveChart; latency: LiveChart }>();
  context.signal.addEventListener('abort', () => charts.forEach((pair) => [pair.throughput, pair.latency].forEach((chart) => chart.dispose())));
  const refresh = async (): Promise<void> => {
    let stats: TaskStats;
    try {
      stats = await getJson<TaskStats>('/api/tasks/stats', context.signal);
    } catch (error) {
      replaceChildren(statsArea, el('p', { class: error instanceof ApiError && error.status === 503 ? 'muted' : 'error' }, errorMessage(error)));
      return;
    }
    const names = Object.keys(stats).sort((left, right) => (stats[right]?.sinceStart.finished ?? 0) - (stats[left]?.sinceStart.finished ?? 0)).slice(0, CHARTED_NAMES_MAX);
    if (names.length === 0) replaceChildren(statsArea, el('p', { class: 'muted' }, 'No task has finished since the keeper started.'));
    for (const name of names) {
      const window = stats[name]?.windows['60s'];
      if (window === undefined) continue;
      const pair = charts.get(name) ?? addCharts(name);
      pair.throughput.push([window.throughputPerSecond]);
      pair.latency.push([window.responseMs?.p50 ?? 0, window.responseMs?.p90 ?? 0, window.responseMs?.p99 ?? 0]);
    }
  };
  const addCharts = (name: string): { throughput: LiveChart; latency: LiveChart } => {
    if (charts.size === 0) replaceChildren(statsArea);
    const pair = {
      throughput: new LiveChart({ title: `${name}: finished per second`, height: 140, format: (value) => `${value.toFixed(2)}/s`, series: [{ key: 'throughput', label: 'tasks', color: '#2563eb' }] }),
      latency: new LiveChart({
        title: `${name}: response time (submit to finish)`, height: 140, format: formatDurationMs,
        series: [{ key: 'p50', label: 'p50', color: '#16a34a' }, { key: 'p90', label: 'p90', color: '#d97706' }, { key: 'p99', label: 'p99', color: '#dc2626' }],
      }),
    };
    charts.set(name, pair);
    statsArea.append(el('div', { class: 'task-name-stats', 'data-task-name': name }, pair.throughput.element, pair.latency.element));
    return pair;
  };
  await Promise.all([refresh(), list.reload()]);
  every(STATS_POLL_MS, context.signal, () => Promise.all([refresh(), list.reload()]).then(() => undefined));
};

/** The filter form and one page of tasks (the filters and offset live in the hash query); `reload` fetches the page again. */
function taskList(query: URLSearchParams): { element: HTMLElement; reload: () => Promise<void> } {
  const name = query.get('name') ?? '';
  const state = query.get('state') ?? '';
  const offset = Math.max(0, Number(query.get('offset') ?? 0) || 0);
  const rows = el('tbody');
  const pager = el('div', { class: 'pager' });
  const nameInput = el('input', { name: 'name', value: name, placeholder: 'task name', 'aria-label': 'task name' });
  const stateSelect = el('select', { name: 'state', 'aria-label': 'state' }, ...STATES.map((choice) => el('option', { value: choice, selected: choice === state }, choice === '' ? 'any state' : choice)));
  const filters = el('form', { class: 'action-form inline', id: 'task-filters' }, nameInput, stateSelect, el('button', { type: 'submit' }, 'Filter'));
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    window.location.hash = pageHash(['tasks'], withoutEmpty({ name: nameInput.value.trim(), state: stateSelect.value }));
  });
  const search = new URLSearchParams(withoutEmpty({ name, state, limit: String(PAGE_SIZE + 1), offset: String(offset) }));
  const reload = (): Promise<void> => getJson<TaskItem[]>(`/api/tasks?${search.toString()}`).then((tasks) => {
    replaceChildren(rows, ...tasks.slice(0, PAGE_SIZE).map(taskRow));
    if (tasks.length === 0) replaceChildren(rows, el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'no tasks')));
    const link = (text: string, to: number): HTMLAnchorElement => pageLinkTo(text, { name, state, offset: String(to) });
    replaceChildren(pager, offset > 0 ? link('‹ newer', Math.max(0, offset - PAGE_SIZE)) : null,
      el('span', { class: 'summary' }, `tasks ${formatNumber(offset + 1)}–${formatNumber(offset + Math.min(tasks.length, PAGE_SIZE))}`),
      tasks.length > PAGE_SIZE ? link('older ›', offset + PAGE_SIZE) : null);
  }, (error: unknown) => replaceChildren(rows, el('tr', {}, el('td', { colspan: 6, class: 'error' }, errorMessage(error)))));
  const element = el('div', {}, filters, el('table', { class: 'list', id: 'tasks-table' },
    el('thead', {}, el('tr', {}, ...['Id', 'Name', 'State', 'Attempts', 'Created', 'Finished'].map((title) => el('th', {}, title)))), rows), pager);
  return { element, reload };
}

function taskRow(task: TaskItem): HTMLTableRowElement {
  return el('tr', {},
    el('td', {}, pageLink(task.id, ['tasks', task.id])), el('td', {}, task.name),
    el('td', {}, el('span', { class: `state state-${task.state}` }, task.state)),
    el('td', {}, `${task.attempts}/${task.maxAttempts}`), el('td', {}, formatTime(task.createdAt)), el('td', {}, formatTime(task.finishedAt)));
}

function pageLinkTo(text: string, query: Record<string, string>): HTMLAnchorElement {
  return pageLink(text, ['tasks'], withoutEmpty(query));
}

function withoutEmpty(query: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(query).filter(([, value]) => value !== '' && value !== '0'));
}
