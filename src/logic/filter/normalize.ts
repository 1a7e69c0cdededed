// The form texts and words are matched in (docs/moderation.md, "Word filter"): each code point
// is mapped on its own (compatibility decomposition, lower case, Latin-style diacritics and
// separators dropped, then recomposed), so that every unit of the result knows which original
// code point it came from and a match can be starred in the original text.

/** Kinds of code point, by what the mapping does with them. */
const enum Kind {
  /** emits `s` (one code point or a few, as 'ﬁ' → 'fi') */
  Plain = 1,
  /** emits nothing: a separator (space, punctuation) or an invisible/format character */
  Skip = 2,
  /** emits nothing and belongs to the code point before it (a stripped combining mark, a variation selector) */
  Attach = 3,
  /** a combining mark that is kept (kana voicing marks): composed with the code point before it when one exists */
  Compose = 4,
}

interface Entry {
  readonly kind: Kind;
  readonly s: string;
}

/** Shown nothing: zero-width, format, bidi and filler characters, variation selectors. */
const INVISIBLE = /^[\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\p{Cc}\p{Cf}\u{e0100}-\u{e01ef}]$/u;
/** Between letters, these separate nothing we match on: white space and punctuation (ASCII symbols too). */
const SEPARATOR = /[\p{White_Space}\p{P}\p{Cc}\p{Cf}\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]/gu;
/** Diacritics of Latin, Greek and Cyrillic letters and symbols' marks: stripped ('é' → 'e', Zalgo text). */
const DIACRITICS = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;
const MARK = /^\p{M}/u;

const SKIP: Entry = { kind: Kind.Skip, s: '' };
const ATTACH: Entry = { kind: Kind.Attach, s: '' };
const REPLACEMENT: Entry = { kind: Kind.Plain, s: '\ufffd' };

function mapCodePoint(cp: number): Entry {
  if (cp >= 0xd800 && cp <= 0xdfff) return REPLACEMENT; // a lone surrogate: matches nothing, breaks a match
  const ch = String.fromCodePoint(cp);
  if (INVISIBLE.test(ch)) return MARK.test(ch) ? ATTACH : SKIP;
  const s = ch.normalize('NFKD').toLowerCase().replace(DIACRITICS, '').replace(SEPARATOR, '').normalize('NFC');
  if (s === '') return MARK.test(ch) ? ATTACH : SKIP;
  if (MARK.test(s)) return { kind: Kind.Compose, s };
  return { kind: Kind.Plain, s };
}

/** ASCII: the lower-case code, or -1 for a separator or control character. */
const ASCII = new Int16Array(128).map((_, c) => (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) ? c : c >= 0x41 && c <= 0x5a ? c + 32 : -1);
/** Mapped BMP code points, filled as they are seen (a danmaku's alphabet is small). */
const BMP: (Entry | undefined)[] = new Array<Entry | undefined>(0x10000);
const ASTRAL = new Map<number, Entry>();

function entry(cp: number): Entry {
  if (cp < 0x10000) {
    let e = BMP[cp];
    if (e === undefined) BMP[cp] = e = mapCodePoint(cp);
    return e;
  }
  let e = ASTRAL.get(cp);
  if (e === undefined) {
    e = mapCodePoint(cp);
    if (ASTRAL.size < 65536) ASTRAL.set(cp, e);
  }
  return e;
}

/**
 * The last normalisation's result: `units` UTF-16 units of the normalised text, and for each
 * unit `starts[j]`/`ends[j]`, the original code units [start, end) it came from. Module-level
 * scratch, valid until the next call (everything here is synchronous).
 */
export const scratch = {
  length: 0,
  units: new Uint16Array(256),
  starts: new Int32Array(256),
  ends: new Int32Array(256),
};

function grow(need: number): void {
  let size = scratch.units.length;
  while (size < need) size *= 2;
  if (size === scratch.units.length) return;
  const units = new Uint16Array(size);
  const starts = new Int32Array(size);
  const ends = new Int32Array(size);
  units.set(scratch.units);
  starts.set(scratch.starts);
  ends.set(scratch.ends);
  scratch.units = units;
  scratch.starts = starts;
  scratch.ends = ends;
}

/**
 * Normalises `text` into `scratch`; returns whether the result differs from `text`. Never
 * throws: a lone surrogate becomes U+FFFD, which no word contains.
 */
export function normalizeInto(text: string): boolean {
  const len = text.length;
  if (scratch.units.length < len) grow(len);
  let { units, starts, ends } = scratch;
  let n = 0;
  let changed = false;
  /** where the units of the code point just before begin, if it emitted any (-1 otherwise) */
  let last = -1;
  for (let i = 0; i < len; ) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      const m = ASCII[c]!;
      if (m < 0) {
        changed = true;
        last = -1;
      } else {
        if (m !== c) changed = true;
        units[n] = m;
        starts[n] = i;
        ends[n] = i + 1;
        last = n++;
      }
      i++;
      continue;
    }
    let cp = c;
    let width = 1;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        width = 2;
      }
    }
    const e = entry(cp);
    const end = i + width;
    if (e.kind === Kind.Skip) {
      changed = true;
      last = -1; // a mark after a space or punctuation belongs to it, not to the letter before
    } else if (e.kind === Kind.Attach) {
      changed = true;
      for (let j = last; j >= 0 && j < n; j++) ends[j] = end;
    } else {
      const s = e.s;
      if (e.kind === Kind.Compose && last >= 0 && n - last === 1) {
        const composed = (String.fromCharCode(units[last]!) + s).normalize('NFC');
        if (composed.length === 1) {
          units[last] = composed.charCodeAt(0);
          ends[last] = end;
          changed = true;
          i = end;
          continue;
        }
      }
      if (n + s.length > units.length) {
        grow(n + s.length);
        ({ units, starts, ends } = scratch);
      }
      if (s.length !== width || s.charCodeAt(0) !== c || (width === 2 && s.charCodeAt(1) !== text.charCodeAt(i + 1))) changed = true;
      last = n;
      for (let k = 0; k < s.length; k++) {
        units[n] = s.charCodeAt(k);
        starts[n] = i;
        ends[n] = end;
        n++;
      }
    }
    i = end;
  }
  scratch.length = n;
  return changed;
}

/** The form a text or a word is matched in (docs/moderation.md, "Word filter"). */
export function normalizeForMatch(text: string): string {
  if (!normalizeInto(text)) return text;
  let out = '';
  for (let i = 0; i < scratch.length; i += 4096) {
    out += String.fromCharCode.apply(null, scratch.units.subarray(i, Math.min(scratch.length, i + 4096)) as unknown as number[]);
  }
  return out;
}
