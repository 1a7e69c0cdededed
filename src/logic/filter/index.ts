// placeholder: replaced by the filter helper's engine at integration
// The exact API of docs/shared design (issue 15), implemented trivially: lower-cased substring
// matching, so that the moderation wiring compiles and its tests run before the engine lands.

export type FilterAction = 'reject' | 'hold' | 'mask';
export interface WordList {
  readonly name: string;
  readonly action: FilterAction;
  readonly words: readonly string[];
}
export interface FilterVerdict {
  readonly action: 'pass' | FilterAction;
  readonly text: string;
  readonly lists: readonly string[];
}

export class FilterListError extends Error {
  override name = 'FilterListError';
}

const RANK = { pass: 0, mask: 1, hold: 2, reject: 3 } as const;
const NAME = /^[a-z0-9_-]{1,32}$/;

export function normalizeForMatch(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

export class ContentFilter {
  private lists: readonly WordList[] = [];
  private words = 0;

  constructor(lists: readonly WordList[] = []) {
    this.load(lists);
  }

  load(lists: readonly WordList[]): void {
    this.lists = lists.map((l) => ({ ...l, words: l.words.map(normalizeForMatch) }));
    this.words = lists.reduce((n, l) => n + l.words.length, 0);
  }

  get wordCount(): number {
    return this.words;
  }

  check(text: string): FilterVerdict {
    const lower = normalizeForMatch(text);
    let action: FilterVerdict['action'] = 'pass';
    const hit: string[] = [];
    let masked = text;
    for (const l of this.lists) {
      let any = false;
      for (const w of l.words) {
        if (w === '' || !lower.includes(w)) continue;
        any = true;
        if (l.action === 'mask' && masked.length === lower.length) {
          let i = lower.indexOf(w);
          while (i >= 0) {
            masked = masked.slice(0, i) + '*'.repeat(w.length) + masked.slice(i + w.length);
            i = lower.indexOf(w, i + w.length);
          }
        }
      }
      if (!any) continue;
      hit.push(l.name);
      if (RANK[l.action] > RANK[action]) action = l.action;
    }
    return { action, text: action === 'mask' ? masked : text, lists: hit };
  }
}

export function parseWordLists(json: unknown): WordList[] {
  const lists = (json as { lists?: unknown } | null)?.lists;
  if (!Array.isArray(lists)) throw new FilterListError('expected {"lists": [...]}');
  let total = 0;
  return lists.map((l: unknown, i) => {
    const v = l as Partial<WordList> | null;
    if (typeof v?.name !== 'string' || !NAME.test(v.name)) throw new FilterListError(`lists[${i}].name must match ${NAME}`);
    if (v.action !== 'reject' && v.action !== 'hold' && v.action !== 'mask') throw new FilterListError(`lists[${i}].action must be reject, hold or mask`);
    if (!Array.isArray(v.words) || v.words.some((w) => typeof w !== 'string' || normalizeForMatch(w).length < 1 || normalizeForMatch(w).length > 64)) {
      throw new FilterListError(`lists[${i}].words must be strings of 1-64 characters`);
    }
    total += v.words.length;
    if (total > 100_000) throw new FilterListError('at most 100000 words in all');
    return { name: v.name, action: v.action, words: [...(v.words as string[])] };
  });
}
