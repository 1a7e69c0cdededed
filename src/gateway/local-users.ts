// The gateway's users: uid -> its open connections here. Deliveries from the logic service
// (group and user messages) name the local recipients; the frame they carry was encoded once
// upstream and is sent as is to each of the recipients' connections. This map is also what
// the registry agent writes: how many connections each user has here (UserCounts). A delivery
// that names a push id (a MESSAGE with an id) is handed to the push tracker for each connection
// it was sent to, which resends it until the client acknowledges it (pushes.ts).

import type { NodeHandler } from '../bus/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { decodeDelivery } from '../protocol/delivery.js';
import type { Pushes } from './pushes.js';
import type { UserCounts } from './registry-agent.js';

/**
 * Sends a frame to one connection; false if it was dropped. Drops are counted where they
 * happen (uWS's `dropped` handler, once per frame), not by the callers of this.
 */
export type SendFrame<C> = (conn: C, frame: Uint8Array) => boolean;

/** The connections of a user who has more than one here. */
class Several<C> extends Set<C> {}

export class LocalUsers<C> implements NodeHandler, UserCounts {
  /**
   * uid -> its connection, or its connections when it has several. Most users have one, and
   * a Set per user would cost about 150 bytes more for each of them.
   */
  private readonly users = new Map<string, C | Several<C>>();

  constructor(
    private readonly send: SendFrame<C>,
    /** told after every change of a user's connections (the registry agent) */
    private readonly changed: (uid: string) => void,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** keeps tracked pushes until acknowledged; null: nothing is tracked */
    private readonly pushes: Pick<Pushes<C>, 'track'> | null = null,
  ) {}

  add(uid: string, conn: C): void {
    const had = this.users.get(uid);
    if (had === undefined) this.users.set(uid, conn);
    else if (had instanceof Several) {
      if (had.has(conn)) return;
      had.add(conn);
    } else if (had === conn) return;
    else this.users.set(uid, new Several([had, conn]));
    this.changed(uid);
  }

  remove(uid: string, conn: C): void {
    const had = this.users.get(uid);
    if (had instanceof Several) {
      if (!had.delete(conn)) return;
      if (had.size === 1) this.users.set(uid, had.values().next().value as C);
    } else if (had === conn) this.users.delete(uid);
    else return;
    this.changed(uid);
  }

  count(uid: string): number {
    const had = this.users.get(uid);
    return had === undefined ? 0 : had instanceof Several ? had.size : 1;
  }

  /** The user's connections here (none: empty). */
  connections(uid: string): C[] {
    const had = this.users.get(uid);
    return had === undefined ? [] : had instanceof Several ? [...had] : [had];
  }

  all(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [uid, had] of this.users) out.set(uid, had instanceof Several ? had.size : 1);
    return out;
  }

  /** users with at least one connection here */
  get size(): number {
    return this.users.size;
  }

  nodeMessage(data: Uint8Array): void {
    const delivery = decodeDelivery(data);
    if (!delivery) {
      this.metrics.itemsDropped('bad_delivery');
      this.log.warn({ bytes: data.length }, 'dropped a gateway message that is not a delivery');
      return;
    }
    const id = this.pushes === null ? undefined : delivery.id;
    let frame = delivery.frame;
    let tracked = false;
    const now = Date.now();
    let sent = 0;
    for (const uid of delivery.uids) {
      const had = this.users.get(uid);
      if (had === undefined) continue; // went offline since the logic looked it up
      if (id !== undefined && !tracked) {
        // Kept until acknowledged (seconds, if not), so copied once for all its connections: the
        // bus hands over a view into the socket's read buffer, which the frame would pin.
        frame = new Uint8Array(frame);
        tracked = true;
      }
      if (!(had instanceof Several)) {
        if (this.send(had, frame)) sent++;
        if (id !== undefined) this.pushes!.track(had, id, frame, now);
      } else {
        for (const c of had) {
          if (this.send(c, frame)) sent++;
          if (id !== undefined) this.pushes!.track(c, id, frame, now);
        }
      }
    }
    this.metrics.directDelivered(sent);
  }
}
