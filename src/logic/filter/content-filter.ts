// The word filter: one Aho-Corasick automaton over every list's normalised words, run on the
// normalised text's code units; a match is mapped back to the original code units for masking.

import { Automaton, newMatches } from './automaton.js';
import { normalizeForMatch, normalizeInto, scratch } from './normalize.js';
import type { FilterAction, FilterVerdict, WordList } from './types.js';

/** Precedence of the actions: the strongest list that hits decides. */
const RANK: Readonly<Record<FilterAction, number>> = { mask: 1, hold: 2, reject: 3 };
const BY_RANK: readonly ('pass' | FilterAction)[] = ['pass', 'mask', 'hold', 'reject'];
const NO_LISTS: readonly string[] = Object.freeze([]);

/** One loaded set of lists; replaced whole by `load`. */
interface Loaded {
  /** null when no list has a word: every text passes without being normalised */
  readonly automaton: Automaton | null;
  readonly names: readonly string[];
  readonly ranks: readonly number[];
  /** by the automaton's word index: the indexes of the lists that hold the word */
  readonly lists: readonly (readonly number[])[];
  readonly wordCount: number;
}

const NOTHING: Loaded = { automaton: null, names: [], ranks: [], lists: [], wordCount: 0 };

function build(lists: readonly WordList[]): Loaded {
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
  if (byWord.size === 0) return { ...NOTHING, names: lists.map((l) => l.name) };
  const automaton = new Automaton([...byWord.keys()]);
  return {
    automaton,
    names: lists.map((l) => l.name),
    ranks: lists.map((l) => RANK[l.action]),
    lists: automaton.words.map((w) => byWord.get(w)!),
    wordCount,
  };
}

/** Scratch, reused by every check (all synchronous). */
const matches = newMatches();
/** Which original code units to star; only the bytes set are cleared. */
let starred = new Uint8Array(256);
/** Which lists hit. */
let hits = new Uint8Array(16);

export class ContentFilter {
  private current: Loaded = NOTHING;

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
    const loaded = this.current;
    if (loaded.automaton === null) return { action: 'pass', text, lists: NO_LISTS };
    normalizeInto(text);
    loaded.automaton.scan(scratch.units, scratch.length, matches);
    if (matches.count === 0) return { action: 'pass', text, lists: NO_LISTS };
    if (hits.length < loaded.names.length) hits = new Uint8Array(loaded.names.length);
    let rank = 0;
    for (let m = 0; m < matches.count; m++) {
      for (const index of loaded.lists[matches.word[m]!]!) {
        hits[index] = 1;
        if (loaded.ranks[index]! > rank) rank = loaded.ranks[index]!;
      }
    }
    const names: string[] = [];
    for (let i = 0; i < loaded.names.length; i++) {
      if (hits[i] === 0) continue;
      hits[i] = 0;
      names.push(loaded.names[i]!);
    }
    const action = BY_RANK[rank]!;
    return { action, text: action === 'mask' ? mask(text) : text, lists: names };
  }
}

/**
 * Whether the code point `cp` (after `prev`) belongs to the emoji or character before it when
 * masking: a skin-tone modifier, a variation selector, a tag (flag sequences), a zero-width
 * joiner and the code point a joiner joins (a ZWJ sequence such as a family is one emoji).
 */
export function continuesCluster(cp: number, prev: number): boolean {
  return prev === 0x200d || cp === 0x200d || (cp >= 0x1f3fb && cp <= 0x1f3ff) || (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0020 && cp <= 0xe007f);
}

function codePointAt(text: string, i: number): number {
  return text.codePointAt(i)!;
}

/** The index of the code point before index `i` (which starts one). */
function before(text: string, i: number): number {
  return i >= 2 && (text.charCodeAt(i - 1) & 0xfc00) === 0xdc00 && (text.charCodeAt(i - 2) & 0xfc00) === 0xd800 ? i - 2 : i - 1;
}

/**
 * `text` with the original characters under each match replaced by '*', one per code point
 * (a surrogate pair is one '*'), separators and invisible characters inside the span included;
 * an emoji with its modifiers, variation selector or ZWJ-joined parts is one character (one '*'
 * for the whole cluster when any of it is matched). Reads the matches and the index map the last
 * check left in the scratch arrays.
 */
function mask(text: string): string {
  if (starred.length < text.length) starred = new Uint8Array(Math.max(text.length, starred.length * 2));
  let from = text.length;
  let to = 0;
  for (let m = 0; m < matches.count; m++) {
    const start = scratch.starts[matches.begin[m]!]!;
    const end = scratch.ends[matches.end[m]! - 1]!;
    starred.fill(1, start, end);
    if (start < from) from = start;
    if (end > to) to = end;
  }
  const clearFrom = from;
  const clearTo = to;
  // widen to whole clusters: back to the cluster's first code point, on past its last
  while (from > 0) {
    const p = before(text, from);
    if (!continuesCluster(codePointAt(text, from), codePointAt(text, p))) break;
    from = p;
  }
  while (to < text.length && continuesCluster(codePointAt(text, to), codePointAt(text, before(text, to)))) {
    to += codePointAt(text, to) > 0xffff ? 2 : 1;
  }
  let out = text.slice(0, from);
  let prev = -1;
  for (let i = from; i < to; ) {
    // one cluster: [i, j)
    let j = i;
    let star = false;
    do {
      const cp = codePointAt(text, j);
      const width = cp > 0xffff ? 2 : 1;
      if (starred[j] === 1) star = true;
      prev = cp;
      j += width;
    } while (j < to && continuesCluster(codePointAt(text, j), prev));
    out += star ? '*' : text.slice(i, j);
    i = j;
  }
  starred.fill(0, clearFrom, clearTo);
  return out + text.slice(to);
}
