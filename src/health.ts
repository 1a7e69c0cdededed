// Readiness: whether this process should be given traffic now. Each part of the process that
// can be not ready (the gateway's listening socket, a NATS or Redis connection, the logic
// service's request subscription, a shutdown under way) adds a check that reads state the
// part already keeps: a probe costs no I/O, so a load balancer may ask as often as it likes.
// Liveness needs no check: an answer at all means the event loop turns (metrics-server.ts).

/** null: ready; otherwise a short reason (`draining`, `reconnecting`, ...), shown in /readyz. */
export type ReadinessCheck = () => string | null;

export interface ReadinessReport {
  readonly ready: boolean;
  /** the names of the checks that are not ready, in the order they were added */
  readonly failing: string[];
  /** every check: `ok`, or its reason */
  readonly checks: Record<string, string>;
}

export class Readiness {
  private readonly checks: [string, ReadinessCheck][] = [];

  /** Adds a check; `name` says what is not ready (`gateway`, `redis`, `nats.logic`, ...). */
  add(name: string, check: ReadinessCheck): void {
    if (this.checks.some(([n]) => n === name)) throw new Error(`readiness check ${name} added twice`);
    this.checks.push([name, check]);
  }

  get ready(): boolean {
    return this.checks.every(([, check]) => check() === null);
  }

  report(): ReadinessReport {
    const checks: Record<string, string> = {};
    const failing: string[] = [];
    for (const [name, check] of this.checks) {
      const why = check();
      checks[name] = why ?? 'ok';
      if (why !== null) failing.push(name);
    }
    return { ready: failing.length === 0, failing, checks };
  }
}
