// An Aho-Corasick automaton over UTF-16 code units in flat typed arrays. Built level by level
// from the sorted words, so that each node's children are contiguous and sorted (a binary
// search finds a transition) and node numbers are in breadth-first order (failure links in one
// pass); the root, where most text characters land, has a direct table. Building is linear in
// the words' total length plus a sort: 10,000 words in tens of ms of CPU, 100,000 in about half
// a second, where @monyone/aho-corasick took 0.5 s and 5 s (docs/benchmarks.md, issue 15).

/** Matches of the last `scan`: `count` entries of the word index and its span in the scanned units. */
export interface Matches {
  count: number;
  word: Int32Array;
  begin: Int32Array;
  end: Int32Array;
}

export class Automaton {
  /** the words, normalised and distinct, in the order of `word` indexes */
  readonly words: readonly string[];
  private readonly rootNext = new Int32Array(0x10000);
  private readonly label: Uint16Array;
  private readonly firstChild: Int32Array;
  private readonly childEnd: Int32Array;
  private readonly fail: Int32Array;
  /** index of the word that ends at the node, or -1 */
  private readonly wordAt: Int32Array;
  /** the nearest node on the failure chain (the node excluded) where a word ends, or 0 */
  private readonly outLink: Int32Array;
  private readonly depth: Int32Array;

  /** `words`: distinct, non-empty strings */
  constructor(words: readonly string[]) {
    const sorted = sortByUnits(words);
    this.words = sorted;
    let size = 1;
    for (const w of sorted) size += w.length;
    this.label = new Uint16Array(size);
    this.firstChild = new Int32Array(size);
    this.childEnd = new Int32Array(size);
    this.fail = new Int32Array(size);
    this.wordAt = new Int32Array(size).fill(-1);
    this.outLink = new Int32Array(size);
    this.depth = new Int32Array(size);
    const parent = new Int32Array(size);
    const nodes = buildTrie(sorted, { label: this.label, firstChild: this.firstChild, childEnd: this.childEnd, wordAt: this.wordAt, depth: this.depth, parent });
    for (let v = this.firstChild[0]!; v < this.childEnd[0]!; v++) this.rootNext[this.label[v]!] = v;
    // breadth-first: a node's failure target has a smaller depth, hence a smaller number
    for (let v = 1; v < nodes; v++) {
      const p = parent[v]!;
      let f = 0;
      if (p !== 0) {
        const u = this.label[v]!;
        f = this.fail[p]!;
        for (;;) {
          const c = this.child(f, u);
          if (c > 0) {
            f = c;
            break;
          }
          if (f === 0) break;
          f = this.fail[f]!;
        }
      }
      this.fail[v] = f;
      this.outLink[v] = this.wordAt[f]! >= 0 ? f : this.outLink[f]!;
    }
  }

  /** The child of `node` on `unit`, or 0. */
  private child(node: number, unit: number): number {
    if (node === 0) return this.rootNext[unit]!;
    let lo = this.firstChild[node]!;
    let hi = this.childEnd[node]!;
    const label = this.label;
    while (hi - lo > 8) {
      const mid = (lo + hi) >>> 1;
      if (label[mid]! < unit) lo = mid + 1;
      else hi = mid + 1; // mid may be the one
    }
    for (; lo < hi; lo++) if (label[lo] === unit) return lo;
    return 0;
  }

  /** Every occurrence of every word in `units[0..length)`, written into `out` (grown as needed). */
  scan(units: Uint16Array, length: number, out: Matches): void {
    const { fail, wordAt, outLink, depth } = this;
    let count = 0;
    let state = 0;
    for (let i = 0; i < length; i++) {
      const u = units[i]!;
      for (;;) {
        const c = this.child(state, u);
        if (c > 0 || state === 0) {
          state = c;
          break;
        }
        state = fail[state]!;
      }
      for (let o = wordAt[state]! >= 0 ? state : outLink[state]!; o > 0; o = outLink[o]!) {
        if (count === out.word.length) grow(out);
        out.word[count] = wordAt[o]!;
        out.begin[count] = i + 1 - depth[o]!;
        out.end[count] = i + 1;
        count++;
      }
    }
    out.count = count;
  }
}

interface Trie {
  label: Uint16Array;
  firstChild: Int32Array;
  childEnd: Int32Array;
  wordAt: Int32Array;
  depth: Int32Array;
  parent: Int32Array;
}

/**
 * Fills `t` with the trie of `sorted`, one depth at a time: at depth d, the words longer than d
 * (in sorted order) with the node their first d units reached; returns the number of nodes.
 * Locals only: run once per load, this loop is what V8 optimises on stack replacement.
 */
function buildTrie(sorted: readonly string[], t: Trie): number {
  const { label, firstChild, childEnd, wordAt, depth, parent } = t;
  let nodes = 1;
  let alive = new Int32Array(sorted.length).map((_, i) => i);
  let count = sorted.length;
  let at = new Int32Array(sorted.length);
  let next = new Int32Array(sorted.length);
  let nextAt = new Int32Array(sorted.length);
  for (let d = 0; count > 0; d++) {
    let nextCount = 0;
    let prevParent = -1;
    let prevUnit = -1;
    for (let k = 0; k < count; k++) {
      const w = alive[k]!;
      const word = sorted[w]!;
      const p = at[w]!;
      const u = word.charCodeAt(d);
      if (p !== prevParent || u !== prevUnit) {
        if (p !== prevParent) firstChild[p] = nodes;
        label[nodes] = u;
        parent[nodes] = p;
        depth[nodes] = d + 1;
        nodes++;
        childEnd[p] = nodes;
        prevParent = p;
        prevUnit = u;
      }
      if (word.length === d + 1) wordAt[nodes - 1] = w;
      else {
        next[nextCount++] = w;
        nextAt[w] = nodes - 1;
      }
    }
    [alive, next] = [next, alive];
    [at, nextAt] = [nextAt, at];
    count = nextCount;
  }
  return nodes;
}

/**
 * `words` in UTF-16 code unit order (what `sort()` gives), bucketed by the first unit first:
 * with thousands of distinct first characters (CJK), about three times faster on 100,000 words.
 */
function sortByUnits(words: readonly string[]): string[] {
  const buckets = new Map<number, string[]>();
  for (const w of words) {
    const u = w.charCodeAt(0);
    const b = buckets.get(u);
    if (b === undefined) buckets.set(u, [w]);
    else b.push(w);
  }
  const sorted: string[] = [];
  for (const u of [...buckets.keys()].sort((a, b) => a - b)) {
    const b = buckets.get(u)!;
    if (b.length > 1) b.sort();
    for (const w of b) sorted.push(w);
  }
  return sorted;
}

function grow(out: Matches): void {
  const size = out.word.length * 2;
  for (const k of ['word', 'begin', 'end'] as const) {
    const a = new Int32Array(size);
    a.set(out[k]);
    out[k] = a;
  }
}

export function newMatches(): Matches {
  return { count: 0, word: new Int32Array(16), begin: new Int32Array(16), end: new Int32Array(16) };
}
