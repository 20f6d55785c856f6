/**
 * `promtool check metrics` from Debian's prometheus package: validates Prometheus text (syntax and the
 * naming lints Prometheus applies). In CI a missing promtool fails the tests that use it; elsewhere
 * they are skipped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const inCi = (process.env['CI'] ?? '') !== '' && process.env['CI'] !== 'false';
const PROMTOOL = '/usr/bin/promtool';

/** Why promtool cannot run here, or undefined when it can. */
export const unavailable: string | undefined = existsSync(PROMTOOL) ? undefined : 'no /usr/bin/promtool (install Debian\'s prometheus package)';

/** The `skip` option for promtool checks: outside CI a missing promtool skips them; in CI it must fail them. */
export const skip: string | false = unavailable !== undefined && !inCi ? `skipped: ${unavailable}` : false;

/** Runs `promtool check metrics` on `text`; exit code 0 means valid and lint-clean. */
export function promtoolCheckMetrics(text: string): { status: number | null; output: string } {
  if (unavailable !== undefined) throw new Error(unavailable);
  const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}
