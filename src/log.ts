import { pino, type Logger } from 'pino';

export type { Logger };

/** The process logger: pino JSON on stdout. Components take `log.child({ component })`. */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...base } });
}
