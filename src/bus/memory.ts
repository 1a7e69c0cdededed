// In-process bus for standalone mode. One MemoryBroker stands for the NATS server; each
// node (gateway or logic role) gets its own MemoryBus from it, with the same semantics as
// the NATS implementation: interest-based room delivery, a queue group for requests.

import { BusTimeoutError, BusUnavailableError, NoRespondersError, nullBusObserver, type Bus, type BusObserver, type NodeHandler, type RequestHandler, type RoomHandler } from './index.js';

export class MemoryBroker {
  private readonly rooms = new Map<string, Set<MemoryBus>>();
  private readonly servers: RequestHandler[] = [];
  private readonly nodes = new Map<string, NodeHandler>();
  /** every bus with a control handler: both of standalone's buses (gateway and logic) */
  private readonly broadcasts = new Set<MemoryBus>();
  private next = 0;

  connect(observer: BusObserver = nullBusObserver): MemoryBus {
    return new MemoryBus(this, observer);
  }

  /** @internal */ setNode(id: string, handler: NodeHandler | undefined): void {
    if (handler) this.nodes.set(id, handler);
    else this.nodes.delete(id);
  }

  /** @internal */ deliverToNode(id: string, data: Uint8Array): boolean {
    const h = this.nodes.get(id);
    h?.nodeMessage(data);
    return h !== undefined;
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

  /** @internal */ setBroadcast(node: MemoryBus, on: boolean): void {
    if (on) this.broadcasts.add(node);
    else this.broadcasts.delete(node);
  }

  /** @internal */ broadcast(data: Uint8Array): void {
    for (const node of this.broadcasts) node.receiveBroadcast(data);
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
  private listening: string | undefined;
  private control: ((data: Uint8Array) => void) | undefined;
  private closed = false;

  constructor(
    private readonly broker: MemoryBroker,
    private readonly observer: BusObserver,
  ) {}

  attach(handler: RoomHandler): void {
    if (this.handler) throw new Error('a room handler is already attached');
    this.handler = handler;
  }

  publish(room: string, data: Uint8Array): void {
    if (this.closed) return;
    this.observer.busPublished('room');
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
    this.observer.busReceived('room');
    this.handler?.roomMessage(room, data, true);
  }

  async listen(nodeId: string, handler: NodeHandler): Promise<void> {
    if (this.closed) return;
    if (this.listening !== undefined) throw new Error('this bus already listens');
    this.listening = nodeId;
    this.broker.setNode(nodeId, {
      nodeMessage: (data) => {
        this.observer.busReceived('node');
        handler.nodeMessage(data);
      },
    });
  }

  sendToNode(nodeId: string, data: Uint8Array): void {
    if (this.closed) return;
    this.observer.busPublished('node');
    this.broker.deliverToNode(nodeId, data);
  }

  broadcast(data: Uint8Array): void {
    if (this.closed) return;
    this.observer.busPublished('control');
    // Delivered in a later task, as over NATS: a handler never runs inside the sender's call.
    queueMicrotask(() => this.broker.broadcast(data));
  }

  async onBroadcast(handler: (data: Uint8Array) => void): Promise<void> {
    if (this.closed) return;
    if (this.control) throw new Error('this bus already has a control handler');
    this.control = handler;
    this.broker.setBroadcast(this, true);
  }

  /** @internal */ receiveBroadcast(data: Uint8Array): void {
    this.observer.busReceived('control');
    this.control?.(data);
  }

  async confirm(): Promise<void> {
    if (this.closed) throw new BusUnavailableError('the bus is closed');
  }

  request(data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    this.observer.busPublished('request');
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
    this.served = (data) => {
      this.observer.busReceived('request');
      return handler(data);
    };
    this.broker.addServer(this.served);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const room of this.subscribed) this.broker.removeInterest(room, this);
    this.subscribed.clear();
    if (this.served) this.broker.removeServer(this.served);
    if (this.listening !== undefined) this.broker.setNode(this.listening, undefined);
    this.broker.setBroadcast(this, false);
  }
}
