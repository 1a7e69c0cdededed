// The bus: how room items reach gateways and how gateways reach the logic service.
// Payloads are bytes encoded once by the publisher; no implementation re-encodes them.
// memory.ts is the standalone implementation; cluster mode adds NATS beside it.

/** Implemented by the gateway: the bus pushes into it and never touches sockets itself. */
export interface RoomHandler {
  roomMessage(room: string, data: Uint8Array): void;
}

export interface RoomBus {
  /** Sets the node's handler for room messages (once, before the first subscribe). */
  attach(handler: RoomHandler): void;
  /** Publishes one encoded room item to every gateway subscribed to the room. */
  publish(room: string, data: Uint8Array): void;
  /** Starts delivering the room's messages to this node's handler; resolves once active. */
  subscribe(room: string): Promise<void>;
  unsubscribe(room: string): void;
}

export type RequestHandler = (data: Uint8Array) => Promise<Uint8Array>;

export interface RequestBus {
  /** Sends a request to one logic instance; rejects with BusTimeoutError or NoRespondersError. */
  request(data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Serves requests as a member of the logic queue group. */
  serve(handler: RequestHandler): void;
}

export interface Bus extends RoomBus, RequestBus {
  /** Stops subscriptions and serving; resolves when pending work has been handed off. */
  close(): Promise<void>;
}

export class BusTimeoutError extends Error {
  override name = 'BusTimeoutError';
}

export class NoRespondersError extends Error {
  override name = 'NoRespondersError';
}
