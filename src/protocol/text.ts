// Rules for the human text the server passes on: message texts and display names
// (docs/protocol.md, "Text and names"). Every string in a server frame must be valid UTF-8,
// so nothing here may produce a lone surrogate (msgpackr would encode it as invalid UTF-8).

/** C0 and C1 control characters: they break overlays, terminals and log lines. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f]/g;
/** Bidirectional embedding, override and isolate controls: a name could reorder what follows it. */
const BIDI_ALL = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** Characters that show nothing: a name or text of only these is empty. */
const VISIBLE = /[^\s\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]/u;

export const MAX_NAME_LENGTH = 32;
/** A name the rules leave as it is: printable ASCII, no edge spaces, within the length. */
const PLAIN_NAME = /^[\x21-\x7e](?:[\x20-\x7e]{0,30}[\x21-\x7e])?$/;

/** Length in code points, so that one emoji counts as one character. */
export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Whether `s` has a lone surrogate (not encodable as UTF-8). */
export function hasLoneSurrogate(s: string): boolean {
  return !(s as string & { isWellFormed(): boolean }).isWellFormed();
}

/** Whether `s` shows nothing: only white space and invisible characters. */
export function isBlank(s: string): boolean {
  return !VISIBLE.test(s);
}

/**
 * What is wrong with a message text, or null: it must be well-formed, not blank, at most `max`
 * code points, and free of control characters. `s` is expected trimmed.
 */
export function textProblem(s: string, max: number): string | null {
  if (hasLoneSurrogate(s)) return 'contains a lone surrogate (not valid Unicode)';
  if (isBlank(s)) return 'must not be empty';
  if (codePoints(s) > max) return `longer than ${max} characters`;
  if (CONTROL.test(s)) return 'contains control characters';
  return null;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * A display name as the server shows it: lone surrogates become U+FFFD, control and bidi
 * characters are removed, white space is trimmed, and it is cut to MAX_NAME_LENGTH code points
 * at a grapheme boundary (never inside a surrogate pair or an emoji sequence). A name that
 * shows nothing becomes `fallback` (the uid).
 */
export function displayName(raw: string, fallback: string): string {
  if (PLAIN_NAME.test(raw)) return raw; // most names: nothing to clean
  const clean = (raw as string & { toWellFormed(): string }).toWellFormed().replace(CONTROL_ALL, '').replace(BIDI_ALL, '').trim();
  if (isBlank(clean)) return fallback;
  if (codePoints(clean) <= MAX_NAME_LENGTH) return clean;
  let out = '';
  let n = 0;
  for (const { segment } of graphemes.segment(clean)) {
    const len = codePoints(segment);
    if (n + len > MAX_NAME_LENGTH) break;
    out += segment;
    n += len;
  }
  out = out.trim();
  return isBlank(out) ? fallback : out;
}
