// The word filter (docs/moderation.md, "Word filter"): lists of words with an action each,
// matched on a normalised form of the text.

export { ContentFilter } from './content-filter.js';
export { normalizeForMatch } from './normalize.js';
export type { FilterAction, FilterVerdict, WordList } from './types.js';
export { FILTER_ACTIONS } from './types.js';
export { FilterListError, parseWordLists, LIST_NAME, MAX_LISTS, MAX_TOTAL_UNITS, MAX_WORD_LENGTH, MAX_WORDS } from './word-lists.js';
