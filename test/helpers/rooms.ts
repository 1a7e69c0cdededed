// A RoomHub on the memory bus and store, with a fanout that records what it sends: for the
// unit tests of the gateway's rooms.

import { MemoryBroker } from '../../src/bus/memory.js';
import { RoomHub, type RoomHubOptions, type RoomStores } from '../../src/gateway/room-hub.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { decode } from '../../src/protocol/codec.js';
import { MemoryRoomHistory } from '../../src/store/history/memory.js';

/** The defaults of the configuration, with a long merge window (tests flush by hand). */
export function hubOptions(over: Partial<RoomHubOptions> = {}): RoomHubOptions {
  return {
    mergeMaxMessages: 64,
    mergeWindowMs: 1000,
    replaySize: 10,
    roomDisplayCap: 1000,
    maxTextLength: 100,
    roomRecoverySize: 500,
    roomRecoveryMs: 120_000,
    roomRecoveryKeepSize: 1000,
    roomRecoveryKeepMs: 600_000,
    roomRecoveryMarginMs: 1000,
    ...over,
  };
}

export interface SentBody {
  r: string;
  s?: number;
  d?: { s: number; k: number }[];
  n?: number;
}

export interface TestHub {
  readonly hub: RoomHub;
  readonly metrics: Metrics;
  /** the bodies of the frames published, in order */
  readonly sent: SentBody[];
}

export function testHub(stores: Partial<RoomStores> = {}, over: Partial<RoomHubOptions> = {}): TestHub {
  const sent: SentBody[] = [];
  const fanout = {
    publish: (_topic: string, frame: Uint8Array) => {
      sent.push((decode(frame) as [number, number, SentBody])[2]);
      return 1;
    },
  };
  const metrics = new Metrics({ defaultMetrics: false });
  const bus = new MemoryBroker().connect();
  const all: RoomStores = { history: stores.history ?? new MemoryRoomHistory(), sequencer: stores.sequencer ?? { current: async () => 0 } };
  const hub = new RoomHub(bus, all, fanout, hubOptions(over), metrics, createLogger('silent'));
  bus.attach(hub);
  return { hub, metrics, sent };
}
