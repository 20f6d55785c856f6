/**
 * Starts a worker thread on a sibling module of the caller. Built, that module is JavaScript; under tsx
 * (tests, development) it is TypeScript, and a worker thread does not inherit tsx's loader, so the
 * thread registers it before loading the entry.
 */
import { Worker } from 'node:worker_threads';

/** A worker thread running the module `name` (without extension) next to `callerUrl` (the caller's import.meta.url). */
export function startModuleWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  const extension = callerUrl.endsWith('.ts') ? 'ts' : 'js';
  const entry = new URL(`./${name}.${extension}`, callerUrl);
  if (extension === 'js') return new Worker(entry, { workerData });
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}
