/**
 * Running the pika scripts under test/interop/pika with Debian's /usr/bin/python3 (python3-pika).
 * In CI a missing python3 or pika fails the pika suites; elsewhere they are skipped.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PYTHON = '/usr/bin/python3';
const SCRIPTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'interop', 'pika');
const inCi = (process.env['CI'] ?? '') !== '' && process.env['CI'] !== 'false';

/** Why pika cannot run here, or undefined when it can. */
function pikaUnavailable(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} not found (install python3 and python3-pika)`;
  const probe = spawnSync(PYTHON, ['-c', 'import pika'], { encoding: 'utf8' });
  if (probe.status !== 0) return `pika is not importable by ${PYTHON} (install python3-pika): ${probe.stderr.trim()}`;
  return undefined;
}

/** Why pika cannot run here, or undefined when it can. */
export const unavailable = pikaUnavailable();

/** The `skip` option for pika tests: outside CI a missing pika skips them; in CI it must fail them, never skip. */
export const skip: string | false = unavailable !== undefined && !inCi ? `skipped: ${unavailable}` : false;

/** What a script run produced. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one of the scripts in test/interop/pika and collects its output; kills it after `timeoutMs`. */
export function runPython(script: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [join(SCRIPTS, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Fails unless the script exited with 0, showing its output. */
export function assertSucceeded(result: RunResult): void {
  assert.equal(result.code, 0, `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
}
