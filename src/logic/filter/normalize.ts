// The form texts and words are matched in (docs/moderation.md, "Word filter"): each code point
// is mapped on its own (compatibility decomposition, lower case, Latin-style diacritics and
// invisible characters dropped, then recomposed), so that every unit of the result knows which
// original code point it came from and a match can be starred in the original text. A run of
// separators (spaces, punctuation) between two words of a space-separated script becomes one
// BOUNDARY unit; between single letters ("b a d") or next to CJK it is dropped.

/** Kinds of code point, by what the mapping does with them. */
const enum Kind {
  /** emits `s` (one code point or a few, as 'ﬁ' → 'fi') */
  Plain = 1,
  /** emits nothing and joins the letters around it: an invisible/format character */
  Invisible = 2,
  /** emits nothing and belongs to the code point before it (a stripped combining mark, a variation selector) */
  Attach = 3,
  /** a combining mark that is kept (kana voicing marks): composed with the code point before it when one exists */
  Compose = 4,
  /** a separator (white space, punctuation): a run of them is a word boundary, or nothing (see `normalizeInto`) */
  Separator = 5,
  /** an astral code point that maps to itself (emoji, CJK extensions): emits its own two units */
  Self = 6,
  /** a conjoining Hangul vowel or final consonant: composed with the jamo or syllable before it when NFC does */
  Jamo = 7,
}

interface Entry {
  readonly kind: Kind;
  readonly s: string;
  /** of a script written without spaces between words (CJK, kana, Hangul, Thai...): separators next to it are dropped */
  readonly unspaced: boolean;
  /** a Latin, Greek or Cyrillic letter, or an ASCII digit: every combining mark after it is dropped */
  readonly lgc?: boolean;
}

/** What a run of separators between two words becomes: a space, which nothing else maps to. */
export const BOUNDARY = 0x20;

/** Shown nothing: zero-width, format, bidi and filler characters, variation selectors. */
const INVISIBLE = /^[\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\p{Cc}\p{Cf}\u{e0100}-\u{e01ef}]$/u;
/** Between letters, these separate words: white space and punctuation (ASCII symbols too). */
const SEPARATOR = /[\p{White_Space}\p{P}\p{Cc}\p{Cf}\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]/gu;
const WHITE_SPACE = /^\p{White_Space}$/u;
/** Diacritics of Latin, Greek and Cyrillic letters and symbols' marks: stripped ('é' → 'e', Zalgo text). */
const DIACRITICS = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;
const MARK = /^\p{M}/u;
/** Scripts written without spaces between words (Hangul too: its words are often run together in chat). */
const LGC = /^[\p{scx=Latin}\p{scx=Greek}\p{scx=Cyrillic}0-9]/u;
/** Conjoining Hangul vowels and final consonants: NFC composes them with the leading consonant or syllable before. */
const JAMO_VT = /^[\u1161-\u1175\u11a8-\u11c2]$/;
const UNSPACED = /^[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}\p{scx=Bopomofo}\p{scx=Yi}\p{scx=Thai}\p{scx=Lao}\p{scx=Khmer}\p{scx=Myanmar}\p{scx=Tibetan}]/u;

const INVISIBLE_ENTRY: Entry = { kind: Kind.Invisible, s: '', unspaced: false };
const SEPARATOR_ENTRY: Entry = { kind: Kind.Separator, s: '', unspaced: false };
const ATTACH: Entry = { kind: Kind.Attach, s: '', unspaced: false };
const REPLACEMENT: Entry = { kind: Kind.Plain, s: '\ufffd', unspaced: false };

export function mapCodePoint(cp: number): Entry {
  if (cp >= 0xd800 && cp <= 0xdfff) return REPLACEMENT; // a lone surrogate: matches nothing, breaks a match
  if (cp >= 0x1f3fb && cp <= 0x1f3ff) return ATTACH; // an emoji skin-tone modifier: part of the emoji before it
  const ch = String.fromCodePoint(cp);
  if (WHITE_SPACE.test(ch)) return SEPARATOR_ENTRY; // before INVISIBLE: tab, line feed and NEL are controls too
  if (INVISIBLE.test(ch)) return MARK.test(ch) ? ATTACH : INVISIBLE_ENTRY;
  const s = ch.normalize('NFKD').toLowerCase().replace(DIACRITICS, '').replace(SEPARATOR, '').normalize('NFC');
  if (s === '') return MARK.test(ch) ? ATTACH : SEPARATOR_ENTRY;
  const unspaced = UNSPACED.test(s);
  if (MARK.test(s)) return { kind: Kind.Compose, s, unspaced };
  if (JAMO_VT.test(s)) return { kind: Kind.Jamo, s, unspaced };
  return LGC.test(s) ? { kind: Kind.Plain, s, unspaced, lgc: true } : { kind: Kind.Plain, s, unspaced };
}

/** ASCII: the lower-case code of a letter or digit, or -1 (a separator or control character). */
const ASCII = new Int16Array(128).map((_, c) => (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) ? c : c >= 0x41 && c <= 0x5a ? c + 32 : -1);
const ASCII_ENTRY: readonly Entry[] = Array.from({ length: 128 }, (_, c) => mapCodePoint(c));
/** Mapped BMP code points, filled as they are seen (a danmaku's alphabet is small). */
const BMP: (Entry | undefined)[] = new Array<Entry | undefined>(0x10000);

const SELF: Entry = { kind: Kind.Self, s: '', unspaced: false };
const SELF_UNSPACED: Entry = { kind: Kind.Self, s: '', unspaced: true };
/**
 * The astral planes in ranges, each from its start to the next one's: `FULL` ranges hold every
 * astral code point that does not map to itself (case, compatibility forms, marks, punctuation,
 * format characters) and go through `mapCodePoint`, with a cache that holds them all; the others
 * map to themselves at no cost (emoji, CJK extension ideographs, unassigned, private use). The
 * test "filter - astral code points" checks this against `mapCodePoint` for every code point.
 */
const FULL = 0;
const ASTRAL_RANGES: readonly (readonly [number, number | Entry])[] = [
  [0x10000, FULL], // historic and minority scripts (Deseret, Osage, Adlam cases, Brahmi marks...), Tangut, kana supplements
  [0x1bd00, SELF],
  [0x1cc00, FULL], // legacy computing supplement, Znamenny and musical symbols (marks, format), Mathematical Alphanumeric Symbols, Sutton, Glagolitic and Cyrillic supplements, ... Adlam, Arabic mathematical letters
  [0x1ef00, SELF],
  [0x1f100, FULL], // Enclosed Alphanumeric and Ideographic Supplements
  [0x1f300, SELF], // emoji and symbols
  [0x1f3fb, FULL], // emoji skin-tone modifiers: attached to the emoji before them
  [0x1f400, SELF],
  [0x1fbf0, FULL], // segmented digits
  [0x1fc00, SELF],
  [0x20000, SELF_UNSPACED], // CJK extension ideographs (planes 2 and 3)
  [0x2f800, FULL], // CJK Compatibility Ideographs Supplement
  [0x2fa20, SELF_UNSPACED],
  [0x40000, SELF],
  [0xe0000, FULL], // tags, variation selectors supplement
  [0xe1000, SELF],
];
/** Code points in the FULL ranges: the cache holds that many at most. */
export const ASTRAL_CACHE_MAX = ASTRAL_RANGES.reduce((n, [start, kind], i) => n + (kind === FULL ? (ASTRAL_RANGES[i + 1]?.[0] ?? 0x110000) - start : 0), 0);
const ASTRAL = new Map<number, Entry>();

/** The range table's answer for an astral code point: FULL, SELF or SELF_UNSPACED. */
export function astralRange(cp: number): number | Entry {
  let kind: number | Entry = FULL;
  for (const [start, k] of ASTRAL_RANGES) {
    if (start > cp) break;
    kind = k;
  }
  return kind;
}

/** Astral code points mapped and cached so far (the test's view of the bound). */
export function astralCacheSize(): number {
  return ASTRAL.size;
}

function entry(cp: number): Entry {
  if (cp < 0x10000) {
    let e = BMP[cp];
    if (e === undefined) BMP[cp] = e = mapCodePoint(cp);
    return e;
  }
  const range = astralRange(cp);
  if (range !== FULL) return range as Entry;
  let e = ASTRAL.get(cp);
  if (e === undefined) {
    e = mapCodePoint(cp);
    if (ASTRAL.size < ASTRAL_CACHE_MAX) ASTRAL.set(cp, e);
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
 *
 * A run of separators between two letters becomes one BOUNDARY unit (mapped to the whole run),
 * except when a letter on either side is of an unspaced script (CJK...), or when the letter
 * runs on both sides are one letter long ("b a d", "b.a.d": the spaced-out spelling of a word).
 * The second case needs the letter after the right-hand one: the boundary is "pending" until
 * then, and inserted (one unit shifted) when that letter is one too.
 */
export function normalizeInto(text: string): boolean {
  const len = text.length;
  if (scratch.units.length < len) grow(len);
  let { units, starts, ends } = scratch;
  let n = 0;
  let changed = false;
  /** where the units of the code point just before begin, if it emitted any (-1 otherwise) */
  let last = -1;
  /** letters (code points that emitted units) since the last separator run */
  let run = 0;
  /** whether the last letter is of an unspaced script */
  let leftUnspaced = false;
  /** whether the code point at `last` is a Latin, Greek or Cyrillic letter or a digit */
  let lastLgc = false;
  /** where the separator run after the last letter began, or -1 */
  let sepStart = -1;
  /** the unit index where a boundary goes if the current run gets a second letter, or -1 */
  let pending = -1;
  let pendingStart = 0;
  let pendingEnd = 0;
  for (let i = 0; i < len; ) {
    const c = text.charCodeAt(i);
    let e: Entry;
    let width = 1;
    if (c < 0x80) {
      const m = ASCII[c]!;
      if (m >= 0 && sepStart < 0 && pending < 0) {
        // the common case: a letter or digit within a word
        if (m !== c) changed = true;
        units[n] = m;
        starts[n] = i;
        ends[n] = i + 1;
        last = n++;
        run++;
        leftUnspaced = false;
        lastLgc = true;
        i++;
        continue;
      }
      e = ASCII_ENTRY[c]!;
    } else {
      let cp = c;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          width = 2;
        }
      }
      e = entry(cp);
    }
    const end = i + width;
    let kind = e.kind;
    // any combining mark after a Latin, Greek or Cyrillic letter is decoration (Zalgo, a Thai or kana mark on 'a')
    if (kind === Kind.Compose && last >= 0 && lastLgc) kind = Kind.Attach;
    if (kind === Kind.Separator) {
      changed = true;
      if (sepStart < 0 && run > 0) sepStart = i;
      pending = -1; // the run before was one letter: no boundary
      last = -1; // a mark after a space or punctuation belongs to it, not to the letter before
    } else if (kind === Kind.Invisible) {
      changed = true; // `last` stays: a mark after an invisible character still belongs to the letter before
    } else if (kind === Kind.Attach) {
      changed = true;
      for (let j = last; j >= 0 && j < n; j++) ends[j] = end;
    } else {
      const s = e.s;
      if ((kind === Kind.Compose || kind === Kind.Jamo) && last >= 0 && n - last === 1) {
        const composed = (String.fromCharCode(units[last]!) + s).normalize('NFC');
        if (composed.length === 1) {
          units[last] = composed.charCodeAt(0);
          ends[last] = end;
          changed = true;
          i = end;
          continue;
        }
      }
      const emits = kind === Kind.Self ? width : s.length;
      if (n + emits + 1 > units.length) {
        grow(n + emits + 1);
        ({ units, starts, ends } = scratch);
      }
      if (pending >= 0) {
        // the second letter of a run after a separator run that followed one letter: a boundary after all
        units.copyWithin(pending + 1, pending, n);
        starts.copyWithin(pending + 1, pending, n);
        ends.copyWithin(pending + 1, pending, n);
        units[pending] = BOUNDARY;
        starts[pending] = pendingStart;
        ends[pending] = pendingEnd;
        n++;
        pending = -1;
      } else if (sepStart >= 0) {
        if (!leftUnspaced && !e.unspaced) {
          if (run === 1) {
            pending = n;
            pendingStart = sepStart;
            pendingEnd = i;
          } else {
            units[n] = BOUNDARY;
            starts[n] = sepStart;
            ends[n] = i;
            n++;
          }
        }
        sepStart = -1;
        run = 0;
      }
      run++;
      leftUnspaced = e.unspaced;
      lastLgc = e.lgc === true;
      last = n;
      if (kind === Kind.Self) {
        for (let k = i; k < end; k++) {
          units[n] = text.charCodeAt(k);
          starts[n] = i;
          ends[n] = end;
          n++;
        }
      } else {
        if (s.length !== width || s.charCodeAt(0) !== c || (width === 2 && s.charCodeAt(1) !== text.charCodeAt(i + 1))) changed = true;
        for (let k = 0; k < s.length; k++) {
          units[n] = s.charCodeAt(k);
          starts[n] = i;
          ends[n] = end;
          n++;
        }
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
