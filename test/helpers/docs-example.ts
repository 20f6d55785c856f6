/**
 * Runs a docs/examples script as a user would (`node --import tsx docs/examples/NAME.ts ARGS...`),
 * asynchronously (the broker it talks to may run in the test's own process), and collects its output.
 */
import { spawn } from 'node:child_process';

/** What an example run produced. */
export interface ExampleRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs docs/examples/`file` with `args` until it exits. */
export async function runDocsExample(file: string, args: readonly string[]): Promise<ExampleRun> {
  const script = new URL(`../../docs/examples/${file}`, import.meta.url).pathname;
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}
