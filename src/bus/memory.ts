// In-process bus for standalone mode. One MemoryBroker stands for the NATS server; each
// node (gateway or logic role) gets its own MemoryBus from it, with the same semantics as
// the NATS implementation: interest-based room delivery, a queue group for requests.

import { BusTimeoutError, NoRespondersError, type Bus, type RequestHandler, type RoomHandler } from './index.js';

export class MemoryBroker {
  private readonly rooms = new Map<string, Set<MemoryBus>>();
  private readonly servers: RequestHandler[] = [];
  private next = 0;

  connect(): MemoryBus {
    return new MemoryBus(this);
  }

  /** @internal */ addInterest(room: string, node: MemoryBus): void {
    let set = this.rooms.get(room);
    if (!set) this.rooms.set(room, (set = new Set()));
    set.add(node);
  }

  /** @internal */ removeInterest(room: string, node: MemoryBus): void {
    const set = this.rooms.get(room);
    if (!set) return;
    set.delete(node);
    if (set.size === 0) this.rooms.delete(room);
  }

  /** @internal */ deliver(room: string, data: Uint8Array): void {
    const set = this.rooms.get(room);
    if (!set) return;
    for (const node of set) node.receive(room, data);
  }

  /** @internal */ addServer(h: RequestHandler): void {
    this.servers.push(h);
  }

  /** @internal */ removeServer(h: RequestHandler): void {
    const i = this.servers.indexOf(h);
    if (i >= 0) this.servers.splice(i, 1);
  }

  /** @internal */ pickServer(): RequestHandler | undefined {
    if (this.servers.length === 0) return undefined;
    this.next = (this.next + 1) % this.servers.length;
    return this.servers[this.next];
  }

  /** How many nodes receive a room's messages (tests and metrics). */
  interest(room: string): number {
    return this.rooms.get(room)?.size ?? 0;
  }
}

export class MemoryBus implements Bus {
  private readonly subscribed = new Set<string>();
  private served: RequestHandler | undefined;
  private handler: RoomHandler | undefined;
  private closed = false;

  constructor(private readonly broker: MemoryBroker) {}

  attach(handler: RoomHandler): void {
    if (this.handler) throw new Error('a room handler is already attached');
    this.handler = handler;
  }

  publish(room: string, data: Uint8Array): void {
    if (this.closed) return;
    this.broker.deliver(room, data);
  }

  async subscribe(room: string): Promise<void> {
    if (this.closed) return;
    if (!this.handler) throw new Error('attach a room handler before subscribing');
    this.subscribed.add(room);
    this.broker.addInterest(room, this);
  }

  unsubscribe(room: string): void {
    if (!this.subscribed.delete(room)) return;
    this.broker.removeInterest(room, this);
  }

  /** @internal */ receive(room: string, data: Uint8Array): void {
    this.handler?.roomMessage(room, data);
  }

  request(data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const server = this.broker.pickServer();
    if (!server) return Promise.reject(new NoRespondersError('no logic instance is serving requests'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new BusTimeoutError(`no reply within ${timeoutMs} ms`)), timeoutMs);
      server(data).then(
        (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  serve(handler: RequestHandler): void {
    if (this.served) throw new Error('this bus already serves requests');
    this.served = handler;
    this.broker.addServer(handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const room of this.subscribed) this.broker.removeInterest(room, this);
    this.subscribed.clear();
    if (this.served) this.broker.removeServer(this.served);
  }
}
