/**
 * A private PostgreSQL server for the tests, from Debian's packages (postgresql): initdb in a temp
 * directory, the server on a free port of 127.0.0.1 with its unix sockets in that directory, trust
 * authentication for the superuser 'warren'. PostgreSQL refuses to run as root, so as root it runs as
 * the 'postgres' system user (or 'nobody'), through setpriv, which also asks the kernel to stop the
 * server (SIGINT) if the test process dies without calling stop(). In CI a missing PostgreSQL fails
 * the PostgreSQL suites; elsewhere they are skipped.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const inCi = (process.env['CI'] ?? '') !== '' && process.env['CI'] !== 'false';
const SUPERUSER = 'warren';

/** The bin directory of the newest PostgreSQL under /usr/lib/postgresql, if any. */
function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((version) => existsSync(join(root, version, 'bin', 'initdb')) && existsSync(join(root, version, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

const postgresBin = findPostgresBin();

/** Why PostgreSQL cannot run here, or undefined when it can. */
export const unavailable: string | undefined =
  postgresBin === undefined ? 'no PostgreSQL server under /usr/lib/postgresql/*/bin (install Debian\'s postgresql package)' : undefined;

/** The `skip` option for PostgreSQL tests: outside CI a missing server skips them; in CI it must fail them. */
export const skip: string | false = unavailable !== undefined && !inCi ? `skipped: ${unavailable}` : false;

/** A running private PostgreSQL server. */
export interface TestPostgres {
  /** URL of a database created for the caller, e.g. postgres://warren@127.0.0.1:PORT/warren. */
  url: string;
  /** Creates another empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /**
   * Creates an empty schema in the database of `url` and returns a URL whose connections use it
   * (search_path): much cheaper than a database, for a fresh place per test.
   */
  createSchema(name: string): Promise<string>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** The uid and gid of a system user, or undefined when there is no such user. */
function systemUser(name: string): { uid: number; gid: number } | undefined {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** The command prefix that runs a program as `user` (or as we are) and stops it if we die. */
function runAsPrefix(user: { uid: number; gid: number } | undefined): string[] {
  const setpriv = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig=SIGINT'] : [];
  if (user === undefined) return setpriv.length > 0 ? [...setpriv, '--'] : [];
  if (setpriv.length === 0) throw new Error('running PostgreSQL as root needs setpriv (util-linux) to drop to another user');
  return [...setpriv, `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--'];
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Runs a program to completion, failing with its output when it exits non-zero. */
function runToCompletion(command: string[]): void {
  const [program, ...args] = command;
  if (program === undefined) throw new Error('empty command');
  const result = spawnSync(program, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
}

/** Connects to `url` until the server answers, or fails after `timeoutMs` or when the server exits. */
async function waitUntilReady(url: string, server: ChildProcess, log: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) throw new Error(`postgres exited early:\n${log()}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections within ${timeoutMs} ms: ${String(error)}\n${log()}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Initialises and starts a private server with one database, `database`. */
export async function startTestPostgres(database = 'warren'): Promise<TestPostgres> {
  if (postgresBin === undefined) throw new Error(unavailable);
  const user = process.getuid?.() === 0 ? (systemUser('postgres') ?? systemUser('nobody')) : undefined;
  const prefix = runAsPrefix(user);
  const directory = mkdtempSync(join(tmpdir(), 'warren-postgres-'));
  if (user !== undefined) chownSync(directory, user.uid, user.gid);
  const dataDirectory = join(directory, 'data');
  runToCompletion([...prefix, join(postgresBin, 'initdb'), '-D', dataDirectory, '-U', SUPERUSER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);

  const port = await freePort();
  const [program, ...args] = [...prefix, join(postgresBin, 'postgres'), '-D', dataDirectory, '-p', String(port), '-k', directory,
    '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'];
  let output = '';
  const server = spawn(program ?? '', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  server.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  server.once('error', (error) => (output += `\ncould not run ${program}: ${String(error)}`));

  const urlOf = (name: string): string => `postgres://${SUPERUSER}@127.0.0.1:${port}/${name}`;
  const stop = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null) {
      // Immediate shutdown: the directory is deleted next, so the shutdown checkpoint (seconds of
      // fsyncs after many CREATE DATABASEs) would be wasted.
      server.kill('SIGQUIT');
      await exited;
    }
    rmSync(directory, { recursive: true, force: true });
  };
  const runStatement = async (url: string, statement: (client: pg.Client) => string): Promise<void> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(statement(client));
    } finally {
      await client.end();
    }
  };
  const createDatabase = async (name: string): Promise<string> => {
    await runStatement(urlOf('postgres'), (client) => `CREATE DATABASE ${client.escapeIdentifier(name)}`);
    return urlOf(name);
  };
  const createSchema = async (name: string): Promise<string> => {
    await runStatement(urlOf(database), (client) => `CREATE SCHEMA ${client.escapeIdentifier(name)}`);
    return `${urlOf(database)}?options=${encodeURIComponent(`-c search_path=${name}`)}`;
  };

  try {
    await waitUntilReady(urlOf('postgres'), server, () => output);
    return { url: await createDatabase(database), createDatabase, createSchema, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
