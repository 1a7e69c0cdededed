// TEMPORARY (lead's copy of the design interface; replaced by helper A's file at merge)
export interface ChatStoreLimits { historyRetentionMs: number; inboxRetentionMs: number; inboxMax: number; contactsMax: number }
export interface StoredRecord { readonly c: string; readonly s: number; readonly id: string; readonly t: number; readonly u: string; readonly m: Uint8Array; readonly r: readonly string[] }
export interface ApplyResult { applied: number; skipped: number; evicted: number; inboxWrites: number; unreadChanged: string[] }
export interface InboxPage { items: { v: number; m: Uint8Array }[]; cursor: number; more: boolean }
export interface HistoryPage { items: Uint8Array[]; more: boolean; trimmed: boolean }
export interface Contact { c: string; t: number; last: Uint8Array | null; unread: number; read: number }
export class OutOfRetentionError extends Error {}
export interface ChatStore {
  apply(records: readonly StoredRecord[], now: number): Promise<ApplyResult>;
  inbox(uid: string, q: { after: number } | { latest: true }, limit: number, now: number): Promise<InboxPage>;
  history(conv: string, before: number | undefined, limit: number, now: number): Promise<HistoryPage>;
  contacts(uid: string, limit: number, extra: readonly string[], now: number): Promise<{ contacts: Contact[]; total: number }>;
  read(uid: string, conv: string, seq: number, extra: readonly string[], now: number): Promise<{ read: number; unread: number; total: number }>;
  totals(uids: readonly string[], extra: (uid: string) => readonly string[], now: number): Promise<Map<string, number>>;
}
