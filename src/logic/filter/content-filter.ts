// The word filter: one Aho-Corasick automaton over every list's normalised words, matched on the
// normalised text; a match is mapped back to the original code units for masking.

import { AhoCorasick } from '@monyone/aho-corasick/fast';
import { normalizeInto, normalizeForMatch, scratch } from './normalize.js';
import type { FilterAction, FilterVerdict, WordList } from './types.js';

/** Precedence of the actions: the strongest list that hits decides. */
const RANK: Readonly<Record<FilterAction, number>> = { mask: 1, hold: 2, reject: 3 };
const BY_RANK: readonly ('pass' | FilterAction)[] = ['pass', 'mask', 'hold', 'reject'];
const NO_LISTS: readonly string[] = Object.freeze([]);

/** One loaded set of lists; replaced whole by `load`. */
interface Automaton {
  /** null when no list has a word: every text passes without being normalised */
  readonly ac: AhoCorasick | null;
  readonly names: readonly string[];
  readonly ranks: readonly number[];
  /** normalised word → the indexes of the lists that hold it */
  readonly lists: ReadonlyMap<string, readonly number[]>;
  readonly wordCount: number;
}

const EMPTY: Automaton = { ac: null, names: [], ranks: [], lists: new Map(), wordCount: 0 };

function build(lists: readonly WordList[]): Automaton {
  const byWord = new Map<string, number[]>();
  let wordCount = 0;
  lists.forEach((list, index) => {
    for (const raw of list.words) {
      const word = normalizeForMatch(raw);
      if (word === '') continue; // would match everywhere; parseWordLists refuses it
      const at = byWord.get(word);
      if (at === undefined) byWord.set(word, [index]);
      else if (at[at.length - 1] === index) continue; // the same word twice in one list
      else at.push(index);
      wordCount++;
    }
  });
  return {
    ac: byWord.size === 0 ? null : new AhoCorasick([...byWord.keys()]),
    names: lists.map((l) => l.name),
    ranks: lists.map((l) => RANK[l.action]),
    lists: byWord,
    wordCount,
  };
}

/** Which original code units to star (scratch, reused; only set bytes are cleared). */
let starred = new Uint8Array(256);
/** Which lists hit (scratch). */
let hits = new Uint8Array(16);

export class ContentFilter {
  private current: Automaton = EMPTY;

  constructor(lists: readonly WordList[] = []) {
    if (lists.length > 0) this.load(lists);
  }

  /** Builds the new automaton, then swaps it in: a check never sees half of a reload. */
  load(lists: readonly WordList[]): void {
    this.current = build(lists);
  }

  /** Words loaded: each normalised word once per list that holds it. */
  get wordCount(): number {
    return this.current.wordCount;
  }

  check(text: string): FilterVerdict {
    const a = this.current;
    if (a.ac === null) return { action: 'pass', text, lists: NO_LISTS };
    const normalised = normalizeInto(text);
    const matches = a.ac.matchInText(normalised);
    if (matches.length === 0) return { action: 'pass', text, lists: NO_LISTS };
    if (hits.length < a.names.length) hits = new Uint8Array(a.names.length);
    let rank = 0;
    for (const m of matches) {
      for (const index of a.lists.get(m.keyword)!) {
        hits[index] = 1;
        if (a.ranks[index]! > rank) rank = a.ranks[index]!;
      }
    }
    const names: string[] = [];
    for (let i = 0; i < a.names.length; i++) {
      if (hits[i] === 0) continue;
      hits[i] = 0;
      names.push(a.names[i]!);
    }
    const action = BY_RANK[rank]!;
    return { action, text: action === 'mask' ? mask(text, matches) : text, lists: names };
  }
}

/**
 * `text` with the original code points under each match replaced by '*', one per code point
 * (a surrogate pair is one '*'), separators and invisible characters inside the span included.
 * Reads the index map the last normalizeInto left in `scratch`.
 */
function mask(text: string, matches: readonly { begin: number; end: number }[]): string {
  if (starred.length < text.length) starred = new Uint8Array(Math.max(text.length, starred.length * 2));
  let from = text.length;
  let to = 0;
  for (const m of matches) {
    const start = scratch.starts[m.begin]!;
    const end = scratch.ends[m.end - 1]!;
    starred.fill(1, start, end);
    if (start < from) from = start;
    if (end > to) to = end;
  }
  let out = text.slice(0, from);
  for (let i = from; i < to; ) {
    const c = text.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    const width = pair ? 2 : 1;
    out += starred[i] === 1 ? '*' : text.slice(i, i + width);
    i += width;
  }
  starred.fill(0, from, to);
  return out + text.slice(to);
}
