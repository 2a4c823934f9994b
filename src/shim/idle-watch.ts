/**
 * When a daemon is idle (DESIGN "Flows": the daemon `nodewasi run` starts exits once idle; daemon.ts's
 * `idleTimeoutMs`): no RPC in flight and no task created, running or paused, for `timeoutMs` in a row. Stopped
 * tasks do not keep a daemon alive: a detached task that ended has written its log under `<root>/logs`, which
 * outlives the daemon.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "../gen/index.js";

export interface IdleWatchOptions {
  /** How long the shim must stay idle; 0 or less never fires. */
  timeoutMs: number;
  /** Whether some task still needs the shim (created, running or paused). */
  busy: () => boolean;
  /** Called once, when the shim has been idle for `timeoutMs`. */
  onIdle: () => void;
  /** How often `busy` is polled (a task ending is not an RPC); default min(timeoutMs, 1000). */
  pollMs?: number;
}

/**
 * Counts calls in flight and, once started, fires `onIdle` after `timeoutMs` of nothing. `stop()` ends it.
 */
export class IdleWatch {
  #inFlight = 0;
  #idleSince = Date.now();
  #timer: NodeJS.Timeout | undefined;
  readonly #o: IdleWatchOptions;

  constructor(options: IdleWatchOptions) {
    this.#o = options;
  }

  /**
   * Starts counting, from now: call it once the shim serves. A shim is not idle while it starts (counting from
   * construction, a 1 s daemon slowed down by a busy machine went idle while it was still binding its socket,
   * and failed with "bindAsync called after shutdown").
   */
  start(): void {
    if (this.#o.timeoutMs <= 0 || this.#timer) return;
    this.#idleSince = Date.now();
    const poll = this.#o.pollMs ?? Math.min(this.#o.timeoutMs, 1000);
    this.#timer = setInterval(() => this.#check(), poll);
    this.#timer.unref();
  }

  #check(): void {
    if (!this.#timer) return; // stopped (a tick already queued must not fire it again)
    if (this.active) {
      this.#idleSince = Date.now();
      return;
    }
    if (Date.now() - this.#idleSince >= this.#o.timeoutMs) {
      this.stop();
      this.#o.onIdle();
    }
  }

  /** Whether a call is in flight or a task needs the shim, now. */
  get active(): boolean {
    return this.#inFlight > 0 || this.#o.busy();
  }

  /** Marks a call as started; the returned function marks it done. */
  enter(): () => void {
    this.#inFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#inFlight--;
      this.#idleSince = Date.now();
    };
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * `impl` with every RPC of `desc` counted as in flight while it runs (server-streaming ones until the
   * stream ends), so a long Wait or Pull keeps the shim up.
   */
  track<S extends DescService>(desc: S, impl: ServiceImpl<S>): ServiceImpl<S> {
    const out: Record<string, unknown> = {};
    for (const method of desc.methods) {
      const fn = (impl as Record<string, unknown>)[method.localName];
      if (typeof fn !== "function") continue;
      const bound = fn.bind(impl) as (...a: unknown[]) => unknown;
      out[method.localName] =
        method.methodKind === "server_streaming" ? this.#stream(bound) : this.#unary(bound);
    }
    return out as ServiceImpl<S>;
  }

  #unary(fn: (...a: unknown[]) => unknown) {
    return async (...args: unknown[]) => {
      const done = this.enter();
      try {
        return await fn(...args);
      } finally {
        done();
      }
    };
  }

  #stream(fn: (...a: unknown[]) => unknown) {
    const enter = () => this.enter();
    return async function* (...args: unknown[]) {
      const done = enter();
      try {
        yield* fn(...args) as AsyncIterable<unknown>;
      } finally {
        done();
      }
    };
  }
}
