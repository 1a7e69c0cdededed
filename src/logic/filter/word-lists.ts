// Word lists from untrusted JSON: the admin API's body and FILTER_FILE
// (`{"lists": [{"name": "slurs", "action": "reject", "words": ["..."]}]}`).

import { normalizeForMatch } from './normalize.js';
import { FILTER_ACTIONS, type FilterAction, type WordList } from './types.js';

export const LIST_NAME = /^[a-z0-9_-]{1,32}$/;
/** A word's length in code points once normalised. */
export const MAX_WORD_LENGTH = 64;
/** Before normalisation: a bound on the work one word may cost. */
export const MAX_RAW_WORD_LENGTH = 256;
/** Words in all lists together. */
export const MAX_WORDS = 100_000;
/** Lists in one file or body. */
export const MAX_LISTS = 64;
/**
 * The normalised words' UTF-16 units in all lists together: bounds the automaton's build
 * (docs/moderation.md, "Reloads and cost"); 100,000 words of 20 units, or 31,250 of 64.
 */
export const MAX_TOTAL_UNITS = 2_000_000;

export class FilterListError extends Error {
  override name = 'FilterListError';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** What is wrong with `word` (a string), or the length of its normalised form in UTF-16 units. */
function wordProblem(word: unknown): string | number {
  if (typeof word !== 'string') return 'is not a string';
  if (word.length > MAX_RAW_WORD_LENGTH) return `is longer than ${MAX_RAW_WORD_LENGTH} UTF-16 units`;
  if (!(word as string & { isWellFormed(): boolean }).isWellFormed()) return 'contains a lone surrogate';
  const normalised = normalizeForMatch(word);
  const n = codePoints(normalised);
  if (n === 0) return 'is empty once normalised (only spaces, punctuation or invisible characters)';
  if (n > MAX_WORD_LENGTH) return `is longer than ${MAX_WORD_LENGTH} characters once normalised`;
  return normalised.length;
}

/**
 * Validates an untrusted JSON value into word lists, or throws FilterListError naming the
 * offending entry. Words are kept as given; ContentFilter normalises them.
 */
export function parseWordLists(json: unknown): WordList[] {
  if (!isRecord(json) || !Array.isArray(json.lists)) throw new FilterListError('expected {"lists": [...]}');
  if (json.lists.length > MAX_LISTS) throw new FilterListError(`more than ${MAX_LISTS} lists (${json.lists.length})`);
  const lists: WordList[] = [];
  const names = new Set<string>();
  let total = 0;
  let units = 0;
  json.lists.forEach((list: unknown, i: number) => {
    const at = `lists[${i}]`;
    if (!isRecord(list)) throw new FilterListError(`${at} is not an object`);
    const { name, action, words } = list;
    if (typeof name !== 'string' || !LIST_NAME.test(name)) throw new FilterListError(`${at}.name must match ${LIST_NAME.source}`);
    const named = `${at} ("${name}")`;
    if (names.has(name)) throw new FilterListError(`${named}: a list of that name comes earlier`);
    names.add(name);
    if (typeof action !== 'string' || !FILTER_ACTIONS.includes(action as FilterAction)) {
      throw new FilterListError(`${named}.action must be one of ${FILTER_ACTIONS.join(', ')}`);
    }
    if (!Array.isArray(words)) throw new FilterListError(`${named}.words must be an array of strings`);
    total += words.length;
    if (total > MAX_WORDS) throw new FilterListError(`${named}: more than ${MAX_WORDS} words in all lists`);
    words.forEach((word: unknown, j: number) => {
      const problem = wordProblem(word);
      if (typeof problem === 'string') throw new FilterListError(`${named}.words[${j}] ${typeof word === 'string' ? `(${JSON.stringify(word.slice(0, 40))}) ` : ''}${problem}`);
      units += problem;
      if (units > MAX_TOTAL_UNITS) throw new FilterListError(`${named}.words[${j}]: the words of all lists are longer than ${MAX_TOTAL_UNITS} UTF-16 units in all once normalised`);
    });
    lists.push({ name, action: action as FilterAction, words: words as string[] });
  });
  return lists;
}
