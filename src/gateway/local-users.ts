// The gateway's users: uid -> its open connections here. Deliveries from the logic service
// (group and user messages) name the local recipients; the frame they carry was encoded once
// upstream and is sent as is to each of the recipients' connections.

import type { NodeHandler } from '../bus/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { decodeDelivery } from '../protocol/delivery.js';
import type { RegistryAgent } from './registry-agent.js';

/**
 * Sends a frame to one connection; false if it was dropped. Drops are counted where they
 * happen (uWS's `dropped` handler, once per frame), not by the callers of this.
 */
export type SendFrame<C> = (conn: C, frame: Uint8Array) => boolean;

export class LocalUsers<C> implements NodeHandler {
  private readonly users = new Map<string, Set<C>>();

  constructor(
    private readonly send: SendFrame<C>,
    private readonly agent: RegistryAgent,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  add(uid: string, conn: C): void {
    let set = this.users.get(uid);
    if (!set) this.users.set(uid, (set = new Set()));
    set.add(conn);
    this.agent.connected(uid);
  }

  remove(uid: string, conn: C): void {
    const set = this.users.get(uid);
    if (!set?.delete(conn)) return;
    if (set.size === 0) this.users.delete(uid);
    this.agent.disconnected(uid);
  }

  nodeMessage(data: Uint8Array): void {
    const delivery = decodeDelivery(data);
    if (!delivery) {
      this.metrics.itemsDropped('bad_delivery');
      this.log.warn({ bytes: data.length }, 'dropped a gateway message that is not a delivery');
      return;
    }
    let sent = 0;
    for (const uid of delivery.uids) {
      const conns = this.users.get(uid);
      if (!conns) continue; // went offline since the logic looked it up
      for (const c of conns) if (this.send(c, delivery.frame)) sent++;
    }
    this.metrics.directDelivered(sent);
  }
}
