// The bus: how room items reach gateways, how the logic service reaches one gateway, and how
// gateways reach the logic service. Payloads are bytes encoded once by the publisher; no
// implementation re-encodes them, and a handler may keep the bytes it is given.
// memory.ts is the standalone implementation, nats.ts the cluster one.

import type { BusEvent, SubjectKind } from '../metric-labels.js';

/** Implemented by the gateway: the bus pushes into it and never touches sockets itself. */
export interface RoomHandler {
  /**
   * `fromProcess`: published by this process's own logic service (the in-memory bus), so
   * built by encodeItem from validated fields; otherwise it came over the network, where
   * anything with access to the broker may publish (a site's backend), and must be checked.
   */
  roomMessage(room: string, data: Uint8Array, fromProcess: boolean): void;
  /**
   * The bus reconnected after losing its connection: room messages published in between
   * never arrived, and the handler may fetch them from elsewhere (the room history).
   */
  roomsRestored?(): void | Promise<void>;
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

/** Implemented by the gateway: messages addressed to it alone (group and user deliveries). */
export interface NodeHandler {
  nodeMessage(data: Uint8Array): void;
}

export interface NodeBus {
  /** Starts delivering messages addressed to `nodeId` to `handler`; resolves once active. */
  listen(nodeId: string, handler: NodeHandler): Promise<void>;
  /** Sends one message to one node; lost if that node is not listening. */
  sendToNode(nodeId: string, data: Uint8Array): void;
  /**
   * Resolves once everything sent so far has reached the broker, so that an answer of success
   * to someone outside (the admin API) means the message is on its way. Rejects with
   * BusUnavailableError at once while the broker is unreachable, or BusTimeoutError.
   */
  confirm(): Promise<void>;
}

export type RequestHandler = (data: Uint8Array) => Promise<Uint8Array>;

export interface RequestBus {
  /**
   * Sends a request to one logic instance; rejects with BusTimeoutError, NoRespondersError, or
   * at once with BusUnavailableError while the broker is unreachable.
   */
  request(data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Serves requests as a member of the logic queue group. */
  serve(handler: RequestHandler): void;
}

/**
 * Requests from outside the cluster (a site's backend) on subjects of their own, served by the
 * logic processes as one queue group: the NATS transport of the backend API
 * (src/logic/backend-api.ts). Only a networked bus has it: in standalone mode nothing outside
 * the process can send a request.
 */
export interface ApiBus {
  /**
   * Serves requests on `subject` as a member of the logic queue group. A request published
   * without a reply subject is handled all the same; its answer goes nowhere.
   */
  serveApi(subject: string, handler: RequestHandler): void;
}

/**
 * Control events to every process, gateways and logic alike (no queue group): moderation's
 * mutes, bans and word-list changes (docs/moderation.md). At most once, like every publish:
 * each receiver also polls the store's version for what it missed.
 */
export interface ControlBus {
  /** Sends one event to every process's handler, this process's included. */
  broadcast(data: Uint8Array): void;
  /** Starts delivering events to `handler` (once per bus); resolves once active. */
  onBroadcast(handler: (data: Uint8Array) => void): Promise<void>;
  /** `listener` runs after each reconnect of a networked bus: events may have been missed. */
  onReconnect?(listener: () => void): void;
}

export interface Bus extends RoomBus, NodeBus, RequestBus, ControlBus {
  /** Stops subscriptions and serving; resolves when pending work has been handed off. */
  close(): Promise<void>;
}

/** What a bus reports, for metrics: traffic by subject kind and connection events. */
export type { SubjectKind };

export interface BusObserver {
  busPublished(kind: SubjectKind): void;
  busReceived(kind: SubjectKind): void;
  /** connection events of a networked bus: disconnect, reconnect, ... */
  busEvent(event: BusEvent): void;
  busConnected(up: boolean): void;
}

export const nullBusObserver: BusObserver = {
  busPublished: () => undefined,
  busReceived: () => undefined,
  busEvent: () => undefined,
  busConnected: () => undefined,
};

export class BusTimeoutError extends Error {
  override name = 'BusTimeoutError';
}

export class BusUnavailableError extends Error {
  override name = 'BusUnavailableError';
}

export class NoRespondersError extends Error {
  override name = 'NoRespondersError';
}
