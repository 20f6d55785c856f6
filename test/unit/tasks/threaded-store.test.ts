/** The SQLite result store in a worker thread (what `warren server` uses) passes the same conformance suite. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { ThreadedResultStore } from '../../../src/tasks/store/index.js';
import { resultStoreConformance } from './result-store-conformance.js';

const directory = mkdtempSync(join(tmpdir(), 'warren-threaded-store-'));
let files = 0;
after(() => rmSync(directory, { recursive: true, force: true }));

resultStoreConformance({
  name: 'SQLite in a worker thread',
  newLocation: async () => join(directory, `store-${++files}`, 'tasks.sqlite'),
  open: async (location) => new ThreadedResultStore(location),
  persistent: true,
  skip: false,
});
