/**
 * Several daemons on one database, each a real `autosolve run` child process
 * started from the same config: started, killed with SIGKILL, stopped with
 * SIGTERM, started again, by name. `killAll()` leaves no process behind, for
 * the `after` hook of a test that failed half-way.
 *
 * And what they hold: the work leases in PostgreSQL (decision 010), read
 * through a connection of the harness's own.
 */
import pg from 'pg';
import { startCli, type CliOptions, type CliResult } from './cli.js';

export interface Daemon {
  readonly name: string;
  readonly pid: number;
  /** Epoch ms when it was spawned. */
  readonly startedAt: number;
  /** Resolves when the process has exited. */
  readonly finished: Promise<CliResult>;
  readonly output: () => { stdout: string; stderr: string };
  /** Whether it has not exited yet. */
  running(): boolean;
}

/** What makes a daemon's log say that it is working: setup passed and its workers started. */
const WORKING = /setup passed in/;

export class DaemonGroup {
  readonly #configFile: string;
  readonly #cli: CliOptions;
  readonly #daemons = new Map<string, Daemon>();
  /** Every process started, also those replaced by a restart under the same name. */
  readonly #all: Daemon[] = [];

  constructor(configFile: string, cli: CliOptions) {
    this.#configFile = configFile;
    this.#cli = cli;
  }

  /** Starts `name` (again, after it exited), with `env` added to the group's. */
  start(name: string, env: Record<string, string> = {}): Daemon {
    const current = this.#daemons.get(name);
    if (current?.running()) throw new Error(`daemon ${name} is already running (pid ${current.pid})`);
    const started = startCli(['run', '--config', this.#configFile], { ...this.#cli, env: { ...this.#cli.env, ...env } });
    let exited = false;
    const finished = started.finished.finally(() => (exited = true));
    const pid = started.child.pid;
    if (pid === undefined) throw new Error(`daemon ${name} did not start`);
    const daemon: Daemon = { name, pid, startedAt: Date.now(), finished, output: started.output, running: () => !exited };
    this.#daemons.set(name, daemon);
    this.#all.push(daemon);
    return daemon;
  }

  get(name: string): Daemon {
    const daemon = this.#daemons.get(name);
    if (!daemon) throw new Error(`no daemon named ${name}`);
    return daemon;
  }

  /** The daemons running now. */
  running(): Daemon[] {
    return [...this.#daemons.values()].filter((daemon) => daemon.running());
  }

  /** Resolves when `name` says it is working; rejects when it exits first (with its output) or after the deadline. */
  async working(name: string, deadlineMs = 60_000): Promise<void> {
    const daemon = this.get(name);
    const deadline = Date.now() + deadlineMs;
    while (!WORKING.test(daemon.output().stdout)) {
      if (!daemon.running()) throw new Error(`daemon ${name} exited before it was working:\n${tail(daemon)}`);
      if (Date.now() > deadline) throw new Error(`daemon ${name} was not working after ${deadlineMs} ms:\n${tail(daemon)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** SIGKILL: no cleanup of any kind. Resolves with the exit once the process is gone, and when it died (epoch ms). */
  async kill(name: string): Promise<{ result: CliResult; killedAt: number; goneAt: number }> {
    const daemon = this.get(name);
    const killedAt = Date.now();
    process.kill(daemon.pid, 'SIGKILL');
    const result = await daemon.finished;
    return { result, killedAt, goneAt: Date.now() };
  }

  /** SIGTERM: a graceful stop. Resolves with the exit. */
  async terminate(name: string): Promise<CliResult> {
    const daemon = this.get(name);
    process.kill(daemon.pid, 'SIGTERM');
    return daemon.finished;
  }

  /** Kills whatever still runs and waits for it: for `after`, whatever happened before. */
  async killAll(): Promise<void> {
    const alive = this.#all.filter((daemon) => daemon.running());
    for (const daemon of alive) {
      try {
        process.kill(daemon.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await Promise.all(alive.map((daemon) => daemon.finished.catch(() => undefined)));
  }

  /** The last lines every process wrote, for a failure's message. */
  tails(): string {
    return this.#all.map((daemon) => `--- ${daemon.name} (pid ${daemon.pid}${daemon.running() ? ', running' : ''})\n${tail(daemon)}`).join('\n');
  }
}

function tail(daemon: Daemon): string {
  const { stdout, stderr } = daemon.output();
  return `${stderr.slice(-1_500)}\n${stdout.slice(-2_500)}`;
}

/**
 * A module for `NODE_OPTIONS=--import=…` that makes the process report
 * SCALE_OUT_HOSTNAME as its host name: daemons on one machine that behave as on
 * several. On one host a daemon learns at once that another's pid is dead and
 * frees its work; across hosts only the lease's TTL tells, and that is the path
 * a deployment of several machines takes.
 */
export const HOSTNAME_MODULE = `import os from 'node:os';
import { syncBuiltinESMExports } from 'node:module';
const name = process.env.SCALE_OUT_HOSTNAME;
if (name) {
  os.hostname = () => name;
  syncBuiltinESMExports();
}
`;

/** The repositories (owner/name) whose `repo:<id>` unit each daemon pid holds now, by pid; null without a work_leases table. */
export async function leasesByPid(url: string): Promise<Map<number, string[]> | null> {
  return withClient(url, async (client) => {
    const table = await client.query<{ found: string | null }>(`SELECT to_regclass('work_leases')::text AS found`);
    if (!table.rows[0]?.found) return null;
    const rows = await client.query<{ pid: number; repository: string }>(
      `SELECT i.pid, r.owner || '/' || r.name AS repository
         FROM work_leases l
         JOIN instances i ON i.id = l.owner
         JOIN repositories r ON l.unit = 'repo:' || r.id
        WHERE l.expires_at > $1`,
      [new Date().toISOString()],
    );
    const held = new Map<number, string[]>();
    for (const row of rows.rows) held.set(Number(row.pid), [...(held.get(Number(row.pid)) ?? []), row.repository]);
    return held;
  });
}

/** The instance id the daemon with this pid registered; undefined when it has no row. */
export async function instanceOf(url: string, pid: number): Promise<string | undefined> {
  return withClient(url, async (client) => (await client.query<{ id: string }>('SELECT id FROM instances WHERE pid = $1', [pid])).rows[0]?.id);
}

/** The hosts of the registered daemons. */
export async function registeredHosts(url: string): Promise<string[]> {
  return withClient(url, async (client) => (await client.query<{ host: string }>('SELECT DISTINCT host FROM instances ORDER BY host')).rows.map((row) => row.host));
}

/** Lease rows that still name `instance` as their owner, expired or not. */
export async function unitsOwnedBy(url: string, instance: string): Promise<number> {
  return withClient(url, async (client) => Number((await client.query<{ owned: string }>('SELECT count(*) AS owned FROM work_leases WHERE owner = $1', [instance])).rows[0]?.owned ?? 0));
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
