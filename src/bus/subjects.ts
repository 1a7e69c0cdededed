// NATS subject names, built in this one place (documented in docs/cluster.md, "NATS subjects").
// Room and gateway ids are restricted to [A-Za-z0-9_-] so that each is exactly one token.

export interface Subjects {
  /** room items of one room: `<prefix>.room.<roomId>` */
  room(roomId: string): string;
  /** messages for one gateway (group and user deliveries): `<prefix>.gw.<gatewayId>` */
  node(nodeId: string): string;
  /** upstream requests, served by the logic processes as one queue group: `<prefix>.up` */
  readonly upstream: string;
  /** the queue group of the logic processes */
  readonly logicQueue: string;
  /** the backend API's requests for a room item (docs/cluster.md, "Backend API"): `<prefix>.api.room-item` */
  readonly apiRoomItem: string;
  /** the backend API's requests for a notice to a user: `<prefix>.api.notice` */
  readonly apiNotice: string;
  /** moderation events, to every process (no queue group): `<prefix>.ctl` */
  readonly control: string;
  /** the chat storage queue (records for the writers): `<prefix>.chat.store` */
  readonly chatStore: string;
  /** the JetStream stream holding it: `<PREFIX>_CHAT` (a stream name has no '.') */
  readonly chatStream: string;
}

export function subjects(prefix: string): Subjects {
  return {
    room: (roomId) => `${prefix}.room.${roomId}`,
    node: (nodeId) => `${prefix}.gw.${nodeId}`,
    upstream: `${prefix}.up`,
    logicQueue: `${prefix}-logic`,
    apiRoomItem: `${prefix}.api.room-item`,
    apiNotice: `${prefix}.api.notice`,
    control: `${prefix}.ctl`,
    chatStore: `${prefix}.chat.store`,
    chatStream: `${prefix.toUpperCase().replace(/[^A-Z0-9_-]/g, '_')}_CHAT`,
  };
}
