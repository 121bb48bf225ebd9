/**
 * A feed of "something changed" for the portal's live updates (Server-Sent Events): every
 * successful state-changing request and every presence change bumps it; listeners re-read what
 * they show (each with its own permissions, so the feed itself carries no data).
 *
 * @module
 */

/** See the module doc. */
export class ChangeFeed {
  #version = 0;
  readonly #listeners = new Set<(version: number) => void>();
  readonly #closers = new Set<() => void>();

  /** The current version (starts at 0, increases by one per change). */
  get version(): number {
    return this.#version;
  }

  /** Announces a change. */
  bump(): void {
    this.#version++;
    for (const l of [...this.#listeners]) l(this.#version);
  }

  /** Calls `listener` at every change until the returned function is called. */
  subscribe(listener: (version: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ends every listener's stream (the server is shutting down): calls each `onClose`. */
  close(): void {
    for (const c of [...this.#closers]) c();
    this.#closers.clear();
  }

  /** Calls `fn` at {@link close} until the returned function is called. */
  onClose(fn: () => void): () => void {
    this.#closers.add(fn);
    return () => this.#closers.delete(fn);
  }

  /** Number of listeners (tests check that closed streams unsubscribe). */
  get listeners(): number {
    return this.#listeners.size;
  }
}
