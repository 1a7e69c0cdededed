// The demo page's small event log (data-testid="log"): connection states, joins, gifts and
// every failed request, newest first, capped so that a long session stays light.

export type LogKind = 'info' | 'ok' | 'err';

const MAX_LINES = 200;

export class EventLog {
  constructor(private readonly list: HTMLElement) {}

  add(text: string, kind: LogKind = 'info'): void {
    const li = document.createElement('li');
    li.className = kind;
    const time = document.createElement('time');
    const now = new Date();
    time.dateTime = now.toISOString();
    time.textContent = now.toTimeString().slice(0, 8);
    const span = document.createElement('span');
    span.className = 'text';
    span.textContent = text;
    li.append(time, span);
    this.list.prepend(li);
    while (this.list.childElementCount > MAX_LINES) this.list.lastElementChild?.remove();
  }

  error(what: string, e: unknown): void {
    this.add(`${what}: ${describeError(e)}`, 'err');
  }
}

/** One line for a failed request: the SDK's RequestError carries the protocol's code and reason. */
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const re = e as Error & { code?: unknown; reason?: unknown };
    if (typeof re.code === 'number' && typeof re.reason === 'string') {
      return re.message && re.message !== re.reason ? `${re.reason} (${re.code}): ${re.message}` : `${re.reason} (${re.code})`;
    }
    return e.message || e.name;
  }
  return String(e);
}
