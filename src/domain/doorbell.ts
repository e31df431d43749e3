/** The simplest WakeSource: whoever has news rings, every subscriber hears it. */
import type { WakeSource } from './spec.js';

export class Doorbell implements WakeSource {
  readonly #listeners = new Set<() => void>();

  ring(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
