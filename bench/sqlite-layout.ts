// `npm run bench:sqlite-layout -- [options]`: the raw SQLite cost of a task's rows in a few table layouts,
// with no result store code around it (no JSON parsing, no transitions, no keeper): N tasks each
// INSERTed as 'queued', then UPDATEd to 'succeeded' once `--lag` more tasks were queued (as in a busy
// keeper, where the outcome lands in a later commit), `--batch` statements' worth of events per
// transaction, synchronous=FULL in WAL mode with 16 KB pages, as the store opens its file. Prints CPU
// and wall time per task for each layout asked for:
//   history-table  the history in a WITHOUT ROWID task_events table keyed by the event (layout 2)
//   history-row    the history as text in the task's row, appended to by the UPDATE (layout 3)
// `--without-rowid` makes the tasks table WITHOUT ROWID; `--drop-index name,...` leaves indexes out,
// to see what each one costs.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';

const { values } = parseArgs({
  options: {
    layout: { type: 'string', default: 'history-table,history-row' },
    tasks: { type: 'string', default: '100000' },
    lag: { type: 'string', default: '5000' },
    batch: { type: 'string', default: '300' },
    'without-rowid': { type: 'boolean', default: false },
    'drop-index': { type: 'string', default: '' },
  },
});
const tasks = Number(values.tasks);
const lag = Number(values.lag);
const batchSize = Number(values.batch);
const OPTIONS_JSON = JSON.stringify({ attempts: 3, backoff: { kind: 'exponential', delayMs: 1000, jitter: true }, timeoutMs: 60000, priority: 0, delayMs: 0 });

type Layout = 'history-table' | 'history-row';

function schema(layout: Layout): string {
  const history = layout === 'history-row' ? `, history TEXT NOT NULL DEFAULT ''` : '';
  const dropped = values['drop-index'].split(',').filter((name) => name !== '').map((name) => `DROP INDEX ${name};`).join('\n');
  return `
    CREATE TABLE tasks (id TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL, run INTEGER NOT NULL, attempts INTEGER NOT NULL,
      payload TEXT, options TEXT NOT NULL, result TEXT, error TEXT, retry_at INTEGER, created_at INTEGER NOT NULL, started_at INTEGER,
      finished_at INTEGER, updated_at INTEGER NOT NULL, progress TEXT, progress_at INTEGER${history}) ${values['without-rowid'] ? 'WITHOUT ROWID' : ''};
    CREATE INDEX tasks_by_created ON tasks (created_at, id);
    CREATE INDEX tasks_by_name ON tasks (name, created_at, id);
    CREATE INDEX tasks_by_state ON tasks (state, created_at, id);
    CREATE INDEX tasks_by_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL;
    ${dropped}
    CREATE TABLE task_events (task_id TEXT NOT NULL, run INTEGER NOT NULL, attempt INTEGER NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL,
      body TEXT NOT NULL, PRIMARY KEY (task_id, run, attempt, kind, at)) WITHOUT ROWID;`;
}

/** Time-ordered ids, as the SDK makes them (UUID v7 layout). */
function orderedIds(count: number): string[] {
  const ids: string[] = [];
  for (let index = 0; index < count; index++) {
    const time = (Date.now() + Math.floor(index / 30)).toString(16).padStart(12, '0');
    ids.push(`${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomUUID().slice(15)}`);
  }
  return ids;
}

function measure(layout: Layout): { cpuUs: number; wallUs: number } {
  const directory = mkdtempSync(join(tmpdir(), 'warren-sqlite-layout-'));
  const db = new Database(join(directory, 'tasks.sqlite'));
  try {
    db.pragma('page_size = 16384');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(schema(layout));
    const inRow = layout === 'history-row';
    const columns = `id, name, state, run, attempts, payload, options, created_at, updated_at${inRow ? ', history' : ''}`;
    const insertTask = db.prepare(`INSERT INTO tasks (${columns}) VALUES (${columns.split(',').map(() => '?').join(', ')}) ON CONFLICT (id) DO NOTHING`);
    const finishTask = db.prepare(`UPDATE tasks SET state = ?, attempts = ?, result = ?, started_at = ?, finished_at = ?, updated_at = ?${inRow ? ', history = history || ?' : ''} WHERE id = ?`);
    const insertEvent = db.prepare('INSERT OR IGNORE INTO task_events (task_id, run, attempt, kind, at, body) VALUES (?, ?, ?, ?, ?, ?)');
    const ids = orderedIds(tasks);
    // Each task's queued event, and its outcome once `lag` more tasks were queued: [succeeded?, task index].
    const events: [boolean, number][] = [];
    for (let index = 0; index < tasks + lag; index++) {
      if (index < tasks) events.push([false, index]);
      if (index >= lag) events.push([true, index - lag]);
    }
    const apply = db.transaction((batch: [boolean, number][]) => {
      for (const [succeeded, index] of batch) {
        const id = ids[index] as string;
        const at = 1_700_000_000_000 + index;
        if (!succeeded) {
          const payload = `{"submittedAt":${at}}`;
          const body = `{"protocol":1,"name":"bench-noop","enqueuedAt":${at},"payload":${payload},"options":${OPTIONS_JSON}}`;
          const row = [id, 'bench-noop', 'queued', 1, 0, payload, OPTIONS_JSON, at, at];
          if (inRow) insertTask.run(...row, `\n["queued",1,1,${at},${body}]`);
          else {
            insertTask.run(...row);
            insertEvent.run(id, 1, 1, 'queued', at, body);
          }
        } else {
          const body = `{"protocol":1,"name":"bench-noop","startedAt":${at + 5},"worker":"w1","result":"ok"}`;
          const row = ['succeeded', 1, '"ok"', at + 5, at + 6, at + 6];
          if (inRow) finishTask.run(...row, `,\n["succeeded",1,1,${at + 6},${body}]`, id);
          else {
            finishTask.run(...row, id);
            insertEvent.run(id, 1, 1, 'succeeded', at + 6, body);
          }
        }
      }
    });
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (let start = 0; start < events.length; start += batchSize) apply.immediate(events.slice(start, start + batchSize));
    const cpu = process.cpuUsage(cpuBefore);
    return { cpuUs: (cpu.user + cpu.system) / tasks, wallUs: ((performance.now() - started) * 1000) / tasks };
  } finally {
    db.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

for (const layout of values.layout.split(',') as Layout[]) {
  if (layout !== 'history-table' && layout !== 'history-row') throw new Error(`--layout history-table or history-row, got ${layout}`);
  const { cpuUs, wallUs } = measure(layout);
  console.log(JSON.stringify({ bench: 'sqlite-layout', layout, tasks, lag, batch: batchSize, withoutRowid: values['without-rowid'], droppedIndexes: values['drop-index'], cpuUsPerTask: Math.round(cpuUs * 100) / 100, wallUsPerTask: Math.round(wallUs * 100) / 100 }));
}
