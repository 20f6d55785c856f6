// Starts Warren as a separate process (`node bin/warren.js server ...`), exactly as a user would run
// it, so that it competes for CPU with the benchmark clients the same way RabbitMQ does. Builds
// dist/ first when it is missing or older than src/.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  findFreePort,
  isProcessAlive,
  killTree,
  registerEmergencyCleanup,
  treeCpuTimeMs,
  treeRssBytes,
  waitForAmqp,
  waitUntil,
  type BrokerHandle,
} from './common.js';

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));
const cliEntry = join(repositoryRoot, 'dist', 'cli', 'main.js');

/** Thrown when Warren cannot be built or started, with a message meant for the person running the benchmark. */
export class WarrenNotRunnableError extends Error {
  override name = 'WarrenNotRunnableError';
}

function newestModificationMs(directory: string): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestModificationMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/ with `npm run build` unless dist/cli/main.js is newer than everything in src/. */
export function ensureWarrenBuilt(log: (line: string) => void): void {
  const sourceDirectory = join(repositoryRoot, 'src');
  const stale = !existsSync(cliEntry) || statSync(cliEntry).mtimeMs < newestModificationMs(sourceDirectory);
  if (!stale) return;
  log('building Warren (npm run build) because dist/ is missing or older than src/ ...');
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: repositoryRoot, encoding: 'utf8' });
  if (build.status !== 0) {
    const output = `${build.stdout ?? ''}${build.stderr ?? ''}`.trim().split('\n').slice(0, 20).join('\n');
    throw new WarrenNotRunnableError(`Warren is not runnable yet: \`npm run build\` failed:\n${output}`);
  }
  if (!existsSync(cliEntry)) {
    throw new WarrenNotRunnableError(
      'Warren is not runnable yet: the build produced no dist/cli/main.js (src/cli/main.ts does not exist yet).',
    );
  }
}

function warrenVersion(root: string): string {
  try {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string };
    return `Warren ${manifest.version ?? 'unknown'}`;
  } catch {
    return 'Warren';
  }
}

/** Options for {@link startWarren}. */
export interface StartWarrenOptions {
  /** Skip the build step (use dist/ as it is). */
  readonly skipBuild?: boolean;
  /** How long to wait for Warren to accept AMQP, in milliseconds. */
  readonly startTimeoutMs?: number;
  /** Where progress notes go. */
  readonly log?: (line: string) => void;
  /**
   * Another checkout of Warren to run instead of this one (its bin/warren.js and dist/, built beforehand:
   * nothing is built there), for comparing two versions side by side (`npm run bench:tasks -- --baseline`).
   */
  readonly root?: string;
}

/** A running Warren process; `httpUrl` is its HTTP port (management API, task gateway). */
export interface WarrenHandle extends BrokerHandle {
  readonly httpUrl: string;
}

/** Builds (if needed) and starts Warren in its own process; resolves once it accepts AMQP. */
export async function startWarren(options: StartWarrenOptions = {}): Promise<WarrenHandle> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const root = options.root ?? repositoryRoot;
  if (options.skipBuild !== true && options.root === undefined) ensureWarrenBuilt(log);
  const entry = join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(entry)) throw new WarrenNotRunnableError(`Warren is not runnable yet: ${entry} does not exist.`);

  const directory = mkdtempSync(join(tmpdir(), 'warren-bench-warren-'));
  const port = await findFreePort();
  const httpPort = await findFreePort();
  // WARREN_BENCH_NODE_OPTIONS: extra node flags for the broker process (e.g. --cpu-prof), for profiling.
  const nodeFlags = (process.env['WARREN_BENCH_NODE_OPTIONS'] ?? '').split(' ').filter((flag) => flag !== '');
  const arguments_ = [
    ...nodeFlags,
    join(root, 'bin', 'warren.js'),
    'server',
    '--amqp-port',
    String(port),
    '--http-port',
    String(httpPort),
    '--bind',
    '127.0.0.1',
    '--data-dir',
    join(directory, 'data'),
    '--log-level',
    'warn',
    // WARREN_BENCH_SERVER_ARGS: extra `warren server` flags (e.g. --no-task-keeper), for experiments.
    ...(process.env['WARREN_BENCH_SERVER_ARGS'] ?? '').split(' ').filter((flag) => flag !== ''),
  ];
  const child = spawn(process.execPath, arguments_, { cwd: directory, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  if (pid === undefined) throw new WarrenNotRunnableError('could not spawn Warren');
  // Keep the tail of its output for error messages; never let a full pipe stall the broker.
  let outputTail = '';
  const keep = (chunk: Buffer): void => {
    outputTail = (outputTail + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const unregister = registerEmergencyCleanup(() => {
    killTree(pid, 'SIGKILL');
    rmSync(directory, { recursive: true, force: true });
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exited) child.kill('SIGTERM');
    if (!(await waitUntil(() => exited, 10_000))) killTree(pid, 'SIGKILL');
    await waitUntil(() => exited, 2_000);
    unregister();
    rmSync(directory, { recursive: true, force: true });
  };

  try {
    await waitForAmqp(port, options.startTimeoutMs ?? 30_000, () => !exited && isProcessAlive(pid));
  } catch (error) {
    await stop();
    throw new WarrenNotRunnableError(
      `Warren is not runnable yet: ${(error as Error).message}\n` +
        `command: node ${arguments_.join(' ')}\n${outputTail.trim()}`,
    );
  }

  return {
    name: 'warren',
    url: `amqp://guest:guest@127.0.0.1:${port}/`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    pid,
    version: warrenVersion(root),
    stop,
    // The whole tree, like RabbitMQ's, in case Warren ever runs helper processes.
    memoryRssBytes: () => treeRssBytes(pid),
    cpuTimeMs: () => treeCpuTimeMs(pid),
  };
}
