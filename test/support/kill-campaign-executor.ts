/**
 * The kill campaign's executor (kill-campaign.ts): a command executor that
 * tells the harness it started, what for and under which daemon, thinks a
 * little and answers. The campaign configures it three times, one named
 * executor per kind of work (rules route each event to its own), so that a
 * start says whether it is an answer, a revision or a reply.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from './cli.js';

/** What a daemon writes on GitHub: an issue's first answer, a revision of it (a PATCH), a reply to a mention. */
export const WORK_KINDS = ['answer', 'revise', 'reply'] as const;
export type WorkKind = (typeof WORK_KINDS)[number];

/** argv: the harness's address, then the kind of work it is configured for. */
const SCRIPT = `const http = require('http');
const fs = require('fs');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const kind = process.argv[3];
const url = process.argv[2] + '/started?repository=' + encodeURIComponent(input.repository) + '&number=' + input.number + '&kind=' + kind + '&pid=' + process.pid + '&ppid=' + process.ppid;
http.get(url, (res) => {
  res.resume();
  res.on('end', () => setTimeout(() => process.stdout.write(kind + ' for ' + input.repository + '#' + input.number), 20 + Math.floor(Math.random() * 120)));
}).on('error', () => process.exit(3));
`;

export interface ExecutorStart {
  /** The daemon that spawned it (a daemon killed a moment ago may leave one that starts late). */
  readonly daemonPid: number;
  readonly repository: string;
  readonly number: number;
  readonly kind: WorkKind;
  readonly at: number;
}

/** Receives the executors' "started" calls; remembers their pids so none outlives the campaign. */
export class ExecutorListener {
  readonly pids = new Set<number>();
  #listeners = new Set<(start: ExecutorStart) => void>();
  #server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://harness.invalid');
      const pid = Number(url.searchParams.get('pid'));
      if (pid > 0) this.pids.add(pid);
      res.end('ok');
      const start: ExecutorStart = {
        daemonPid: Number(url.searchParams.get('ppid')),
        repository: url.searchParams.get('repository') ?? '',
        number: Number(url.searchParams.get('number')),
        kind: url.searchParams.get('kind') as WorkKind,
        at: Date.now(),
      };
      for (const listener of [...this.#listeners]) listener(start);
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** The command executor for each kind of work, written into `dir`: argv per kind. */
  commands(dir: string): Record<WorkKind, string[]> {
    const script = writeFile(dir, 'executor.cjs', SCRIPT);
    const run = (kind: WorkKind) => [process.execPath, script, this.url, kind];
    return { answer: run('answer'), revise: run('revise'), reply: run('reply') };
  }

  on(listener: (start: ExecutorStart) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Kills executors a killed daemon left behind. */
  reap(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.pids.clear();
  }

  async close(): Promise<void> {
    this.reap();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
