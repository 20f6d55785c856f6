/** What every page of the UI gets, and helpers pages share. */
import { getJson } from './api.js';

/** The route a page renders: its hash path segments after the page's own, the query, and a signal that aborts when the user leaves. */
export interface PageContext {
  segments: string[];
  query: URLSearchParams;
  signal: AbortSignal;
}

/** Renders a page into `root`. */
export type Page = (root: HTMLElement, context: PageContext) => void | Promise<void>;

/** How often lists that change by themselves (queues, connections) are fetched again. */
export const LIST_REFRESH_MS = 5000;

/** Runs `tick` every `intervalMs` until `signal` aborts (a tick never overlaps the previous one). */
export function every(intervalMs: number, signal: AbortSignal, tick: () => Promise<void>): void {
  let timer: number | undefined;
  const run = (): void => {
    if (signal.aborted) return;
    tick().catch(() => {}).finally(() => {
      if (!signal.aborted) timer = window.setTimeout(run, intervalMs);
    });
  };
  signal.addEventListener('abort', () => window.clearTimeout(timer));
  timer = window.setTimeout(run, intervalMs);
}

/** The names of the vhosts the user can see (for the forms' vhost choice). */
export async function vhostNames(): Promise<string[]> {
  const vhosts = await getJson<{ name: string }[]>('/api/vhosts?columns=name');
  return vhosts.map((vhost) => vhost.name);
}
