// The gateway's admin routes (on ADMIN_PORT with the logic role's, src/admin-http.ts): drain
// without exiting, for rebalancing or to take a gateway out by hand, and undrain
// (docs/cluster.md, "Draining a gateway").

import { HttpError, type Json, type RouteDef, type RouteSet } from '../admin-http.js';
import type { DrainPlan } from './drain.js';
import { PHASE_NAMES, type DrainPhase } from './drain.js';

/** Longest window or not-ready time a request may ask for (as DRAIN_WINDOW_MS allows). */
export const DRAIN_MAX_MS = 600_000;

/** What the routes need of the gateway. */
export interface Drainable {
  readonly drainPhase: DrainPhase;
  readonly drainPlan: DrainPlan | null;
  readonly connectionCount: number;
  drainProgress(): { moved: number; left: number };
  /** the plan of the drain started, or why none was (one runs, or the process is stopping): 409 */
  drain(share: number, windowMs: number, notReadyMs: number): DrainPlan | string;
  /** null: undrained (or was not draining); otherwise why not: 409 */
  undrain(): string | null;
}

export class DrainApi implements RouteSet {
  readonly routes: readonly RouteDef[];

  constructor(
    private readonly gateway: Drainable,
    private readonly defaults: { readonly windowMs: number; readonly notReadyMs: number },
  ) {
    this.routes = [
      ['POST', /^\/api\/gateway\/drain$/, 'gateway_drain', async (_p, b) => this.drain(b)],
      ['GET', /^\/api\/gateway\/drain$/, 'gateway_drain_state', async () => [200, this.state()]],
      ['POST', /^\/api\/gateway\/undrain$/, 'gateway_undrain', async () => this.undrain()],
    ];
  }

  private drain(body: Json): [number, Json] {
    for (const key of Object.keys(body)) if (key !== 'share' && key !== 'windowMs' && key !== 'notReadyMs') throw new HttpError(400, `unknown field ${key}: share, windowMs and notReadyMs are`);
    const share = body.share === undefined ? 1 : body.share;
    if (typeof share !== 'number' || !(share > 0 && share <= 1)) throw new HttpError(400, 'share must be a number above 0 and at most 1');
    const windowMs = ms(body.windowMs, 'windowMs', this.defaults.windowMs);
    const notReadyMs = ms(body.notReadyMs, 'notReadyMs', this.defaults.notReadyMs);
    const plan = this.gateway.drain(share, windowMs, notReadyMs);
    if (typeof plan === 'string') throw new HttpError(409, plan);
    return [202, { connections: plan.connections, moving: plan.moving, windowMs: plan.windowMs, notReadyMs: plan.notReadyMs, share: plan.share }];
  }

  private state(): Json {
    const plan = this.gateway.drainPlan;
    return {
      state: PHASE_NAMES[this.gateway.drainPhase],
      connections: this.gateway.connectionCount,
      plan: plan ? { connections: plan.connections, moving: plan.moving, windowMs: plan.windowMs, notReadyMs: plan.notReadyMs, share: plan.share, by: plan.by } : null,
      ...this.gateway.drainProgress(),
    };
  }

  private undrain(): [number, Json] {
    const refused = this.gateway.undrain();
    if (refused) throw new HttpError(409, refused);
    return [200, this.state()];
  }
}

function ms(v: unknown, name: string, def: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > DRAIN_MAX_MS) throw new HttpError(400, `${name} must be an integer from 0 to ${DRAIN_MAX_MS}`);
  return v;
}
