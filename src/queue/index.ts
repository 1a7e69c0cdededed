// TEMPORARY (lead's copy; replaced by helper B's file at merge)
import type { StoredRecord } from '../store/chat/index.js';
export type { StoredRecord };
export interface QueueObserver { enqueued(records: number, bytes: number): void; applied(records: number, lagSeconds: number[]): void; backlog(messages: number, oldestAgeSeconds: number): void; redelivered(n: number): void; applyFailed(): void }
export class QueueFullError extends Error {}
export class QueueUnavailableError extends Error {}
export interface ChatQueue { enqueue(rec: StoredRecord): Promise<void>; consume(apply: (records: StoredRecord[]) => Promise<void>): { stop(): Promise<void> }; close(): Promise<void> }
