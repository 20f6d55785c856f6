/**
 * `warren worker <module>`: imports a module whose exports are task handlers (named exports, or a
 * default export object of them; the export name is the task name) and runs them in a worker until
 * SIGTERM or SIGINT, which close it gracefully.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isValidTaskName } from '../tasks/protocol.js';
import { createWorker, type TaskHandler } from '../tasks/worker.js';
import type { Logger } from '../util/logger.js';

/** Options of `warren worker`. */
export interface WorkerCommandOptions {
  url: string;
  concurrency: number;
  shutdownTimeoutMs: number;
}

/**
 * The handlers a module exports, by task name: every function-valued named export, plus every
 * function-valued property of a default export object. Other exports are ignored.
 */
export async function loadTaskHandlers(modulePath: string): Promise<Map<string, TaskHandler>> {
  const exports = (await import(pathToFileURL(resolve(modulePath)).href)) as Record<string, unknown>;
  const handlers = new Map<string, TaskHandler>();
  const add = (source: Record<string, unknown>): void => {
    for (const [name, value] of Object.entries(source)) {
      if (name === 'default' || typeof value !== 'function') continue;
      if (!isValidTaskName(name)) throw new Error(`export ${JSON.stringify(name)} is not a valid task name`);
      if (handlers.has(name)) throw new Error(`task ${name} is exported twice`);
      handlers.set(name, value as TaskHandler);
    }
  };
  add(exports);
  const defaultExport = exports['default'];
  if (typeof defaultExport === 'object' && defaultExport !== null) add(defaultExport as Record<string, unknown>);
  if (handlers.size === 0) throw new Error(`${modulePath} exports no task handlers (functions)`);
  return handlers;
}

/** Runs the handlers of `modulePath` until a signal closes the worker; the process then exits. */
export async function runWorker(modulePath: string, options: WorkerCommandOptions, logger: Logger): Promise<void> {
  const handlers = await loadTaskHandlers(modulePath);
  const worker = createWorker({ url: options.url, concurrency: options.concurrency, shutdownTimeoutMs: options.shutdownTimeoutMs, logger });
  for (const [name, handler] of handlers) worker.handle(name, handler);
  worker.on('error', (error) => {
    logger.error({ error: error.message }, 'worker stopped');
    process.exit(1);
  });
  worker.on('close', () => process.exit(0));
  worker.installSignalHandlers();
  await worker.start();
}
