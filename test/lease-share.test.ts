/** The fair share of work units (src/domain/fleet/lease-share.ts): a pure decision, checked alone and over rounds of heartbeats. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideShare, DISCOVERY_UNIT, repositoryOfUnit, repositoryUnit, streamUnit, type UnitLease } from '../src/domain/fleet/lease-share.js';

const TTL = 15_000;
const NOW = 1_000_000;

function repos(count: number): string[] {
  return Array.from({ length: count }, (_, i) => repositoryUnit(i + 1));
}

/** Units held (lease running) by owner, the rest free since `freeSince`. */
function leases(units: readonly string[], holders: Readonly<Record<string, readonly string[]>>, freeSince = NOW): UnitLease[] {
  const owner = new Map<string, string>();
  for (const [daemon, held] of Object.entries(holders)) for (const unit of held) owner.set(unit, daemon);
  return units.map((unit) => {
    const holder = owner.get(unit);
    return holder === undefined ? { unit, owner: null, expiresAt: freeSince } : { unit, owner: holder, expiresAt: NOW + TTL };
  });
}

/** A table of leases and heartbeats: each daemon renews, decides and applies, in turn, as WorkLeases does. */
class Table {
  readonly rows = new Map<string, { owner: string | null; expiresAt: number | null }>();
  now = NOW;
  moves = 0;

  constructor(units: readonly string[]) {
    for (const unit of units) this.rows.set(unit, { owner: null, expiresAt: this.now });
  }

  beat(self: string, live: readonly string[]): void {
    for (const row of this.rows.values()) if (row.owner === self) row.expiresAt = this.now + TTL;
    const decision = decideShare({ leases: [...this.rows].map(([unit, row]) => ({ unit, ...row })), live, self, now: this.now, ttlMs: TTL });
    for (const unit of decision.release) {
      const row = this.rows.get(unit)!;
      assert.equal(row.owner, self, `${self} released ${unit}, which it does not hold`);
      row.owner = null;
      row.expiresAt = this.now;
      this.moves++;
    }
    for (const unit of decision.take) {
      const row = this.rows.get(unit)!;
      // The store's conditional update: only a free or expired unit is taken.
      if (row.owner !== null && row.expiresAt !== null && row.expiresAt > this.now) continue;
      row.owner = self;
      row.expiresAt = this.now + TTL;
      this.moves++;
    }
  }

  /** Every live daemon beats once, then time moves on by a heartbeat. */
  round(live: readonly string[]): void {
    for (const daemon of live) this.beat(daemon, live);
    this.now += 5_000;
  }

  held(daemon: string, kind: 'repo' | 'singleton' = 'repo'): number {
    return [...this.rows].filter(([unit, row]) => row.owner === daemon && row.expiresAt !== null && row.expiresAt > this.now && (repositoryOfUnit(unit) !== undefined) === (kind === 'repo'))
      .length;
  }

  free(): number {
    return [...this.rows.values()].filter((row) => row.owner === null || row.expiresAt === null || row.expiresAt <= this.now).length;
  }
}

void describe('work unit names', () => {
  void it('names a repository unit by id, a stream by its organisation in lower case, and reads a repository unit back', () => {
    assert.equal(repositoryUnit(42), 'repo:42');
    assert.equal(streamUnit('Acme'), 'stream:acme');
    assert.equal(repositoryOfUnit('repo:42'), 42);
    assert.equal(repositoryOfUnit(DISCOVERY_UNIT), undefined);
    assert.equal(repositoryOfUnit('stream:acme'), undefined);
  });
});

void describe('decideShare', () => {
  void it('gives a lone daemon every unit', () => {
    const units = [DISCOVERY_UNIT, streamUnit('acme'), ...repos(10)];
    const decision = decideShare({ leases: leases(units, {}), live: [], self: 'a', now: NOW, ttlMs: TTL });
    assert.deepEqual(decision.take, [...units].sort());
    assert.deepEqual(decision.release, []);
  });

  void it('takes free units only up to the fair share, ceil(units / live daemons)', () => {
    const units = repos(10);
    const decision = decideShare({ leases: leases(units, { b: units.slice(0, 3), c: units.slice(3, 6) }), live: ['a', 'b', 'c'], self: 'a', now: NOW, ttlMs: TTL });
    assert.equal(decision.take.length, 4);
    assert.ok(decision.take.every((unit) => units.slice(6).includes(unit)));
  });

  void it('takes every unit of a daemon whose leases ran out, beyond its share, and releases nothing in that heartbeat', () => {
    const units = repos(9);
    const rows = leases(units, { a: units.slice(0, 3), b: units.slice(3, 6), c: units.slice(6) }).map((lease) =>
      lease.owner === 'c' ? { ...lease, expiresAt: NOW - 1 } : lease,
    );
    const decision = decideShare({ leases: rows, live: ['a', 'b'], self: 'a', now: NOW, ttlMs: TTL });
    assert.deepEqual(decision.take, units.slice(6).sort());
    assert.deepEqual(decision.release, []);
  });

  void it('leaves alone the units of a daemon that is not live while its leases run', () => {
    const units = repos(6);
    const decision = decideShare({ leases: leases(units, { gone: units.slice(0, 3) }), live: ['a'], self: 'a', now: NOW, ttlMs: TTL });
    assert.deepEqual(decision.take, units.slice(3).sort());
  });

  void it('takes a unit nobody took for a whole TTL even above its share (a miscounted live daemon cannot strand it)', () => {
    const units = repos(4);
    const rows = leases(units, { a: units.slice(0, 2) }, NOW - TTL);
    // "ghost" counts as live but takes nothing: the share (2) would leave the free ones to it.
    const decision = decideShare({ leases: rows, live: ['a', 'ghost'], self: 'a', now: NOW, ttlMs: TTL });
    assert.deepEqual(decision.take, units.slice(2).sort());
  });

  void it('leaves units just released to a daemon below floor(units / live) instead of taking them back', () => {
    const units = repos(10);
    const rows = leases(units, { a: units.slice(0, 3), b: units.slice(3, 6) });
    const decision = decideShare({ leases: rows, live: ['a', 'b', 'c'], self: 'a', now: NOW, ttlMs: TTL });
    assert.deepEqual(decision, { take: [], release: [] });
  });

  void it('releases down to floor(units / live) while another live daemon holds fewer', () => {
    const units = repos(10);
    const rows = leases(units, { a: units.slice(0, 5), b: units.slice(5) });
    const decision = decideShare({ leases: rows, live: ['a', 'b', 'c'], self: 'a', now: NOW, ttlMs: TTL });
    assert.equal(decision.release.length, 2);
    assert.ok(decision.release.every((unit) => units.slice(0, 5).includes(unit)));
    assert.deepEqual(decision.take, []);
  });

  void it('moves nothing when the share is even (floor or ceil each)', () => {
    const units = repos(10);
    const rows = leases(units, { a: units.slice(0, 4), b: units.slice(4, 7), c: units.slice(7) });
    for (const self of ['a', 'b', 'c']) {
      assert.deepEqual(decideShare({ leases: rows, live: ['a', 'b', 'c'], self, now: NOW, ttlMs: TTL }), { take: [], release: [] }, self);
    }
  });

  void it('spreads the singletons: a daemon holding discovery and a stream gives one up when another daemon is live', () => {
    const units = [DISCOVERY_UNIT, streamUnit('acme'), ...repos(4)];
    const rows = leases(units, { a: [DISCOVERY_UNIT, streamUnit('acme'), ...repos(2)], b: repos(4).slice(2) });
    const decision = decideShare({ leases: rows, live: ['a', 'b'], self: 'a', now: NOW, ttlMs: TTL });
    assert.equal(decision.release.length, 1);
    assert.ok([DISCOVERY_UNIT, streamUnit('acme')].includes(decision.release[0]!));
  });
});

void describe('decideShare over heartbeats', () => {
  void it('three daemons starting together end with an even share of the repositories and one singleton each at most, then stop moving', () => {
    const table = new Table([DISCOVERY_UNIT, streamUnit('acme'), streamUnit('beta'), ...repos(300)]);
    const live = ['a', 'b', 'c'];
    for (let i = 0; i < 5; i++) table.round(live);
    assert.deepEqual(live.map((d) => table.held(d)), [100, 100, 100]);
    assert.deepEqual(live.map((d) => table.held(d, 'singleton')), [1, 1, 1]);
    assert.equal(table.free(), 0);
    const moves = table.moves;
    for (let i = 0; i < 10; i++) table.round(live);
    assert.equal(table.moves, moves, 'a balanced fleet moves no unit');
  });

  void it('a killed daemon\'s units are all held again one heartbeat after its leases run out, and the survivors then share evenly', () => {
    const table = new Table(repos(300));
    for (let i = 0; i < 5; i++) table.round(['a', 'b', 'c']);
    // c dies: no more beats. Its registration goes stale with its leases (live = a lease TTL).
    for (let t = 0; t < TTL; t += 5_000) table.round(['a', 'b']);
    table.round(['a', 'b']);
    assert.equal(table.free(), 0, 'every unit of the dead daemon is held again');
    assert.equal(table.held('a') + table.held('b'), 300);
    for (let i = 0; i < 3; i++) table.round(['a', 'b']);
    assert.deepEqual([table.held('a'), table.held('b')], [150, 150]);
  });

  void it('a returning daemon gets its share from the others without thrash', () => {
    const table = new Table(repos(10));
    for (let i = 0; i < 3; i++) table.round(['a', 'b']);
    assert.deepEqual([table.held('a'), table.held('b')], [5, 5]);
    for (let i = 0; i < 4; i++) table.round(['a', 'b', 'c']);
    const counts = ['a', 'b', 'c'].map((d) => table.held(d)).sort();
    assert.deepEqual(counts, [3, 3, 4]);
    const moves = table.moves;
    for (let i = 0; i < 10; i++) table.round(['a', 'b', 'c']);
    assert.equal(table.moves, moves);
  });
});
