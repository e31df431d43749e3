/** Injected faults: the next matching requests get the fault instead of normal handling. */
import type { SimFault } from './types.js';

interface PendingFault {
  fault: SimFault;
  left: number;
}

export class FaultQueue {
  private pending: PendingFault[] = [];

  inject(fault: SimFault): void {
    const times = fault.times ?? 1;
    if (!(times >= 1)) throw new Error(`fault ${fault.kind}: times must be at least 1, got ${times}`);
    if (fault.kind === 'delay' && !(fault.ms >= 0)) throw new Error(`fault delay: ms must be >= 0, got ${fault.ms}`);
    this.pending.push({ fault, left: times });
  }

  clear(): void {
    this.pending = [];
  }

  /**
   * The first fault, in injection order, that matches the request and `accept`; uses up one of its times.
   * By default a per-repository GraphQL fault is left for the query's resolution to take.
   */
  take(method: string, path: string, accept: (fault: SimFault) => boolean = (fault) => fault.kind !== 'graphql-forbidden'): SimFault | undefined {
    const index = this.pending.findIndex(({ fault }) => accept(fault) && matches(fault, method, path));
    if (index < 0) return undefined;
    const entry = this.pending[index] as PendingFault;
    entry.left -= 1;
    if (entry.left <= 0) this.pending.splice(index, 1);
    return entry.fault;
  }
}

function matches(fault: SimFault, method: string, path: string): boolean {
  if (fault.kind.startsWith('graphql-') && (method.toUpperCase() !== 'POST' || path !== '/graphql')) return false;
  const match = fault.match;
  if (!match) return true;
  if (match.method !== undefined && match.method.toUpperCase() !== method.toUpperCase()) return false;
  if (match.path === undefined) return true;
  if (typeof match.path === 'string') return match.path === path;
  match.path.lastIndex = 0; // a /g or /y RegExp keeps state between test() calls
  return match.path.test(path);
}
