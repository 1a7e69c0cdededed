// The word filter's public types (docs/moderation.md, "Word filter").

/** What a list does to a text that contains one of its words. */
export type FilterAction = 'reject' | 'hold' | 'mask';

export const FILTER_ACTIONS: readonly FilterAction[] = ['reject', 'hold', 'mask'];

export interface WordList {
  readonly name: string;
  readonly action: FilterAction;
  readonly words: readonly string[];
}

export interface FilterVerdict {
  /** the strongest action of the lists that hit (reject > hold > mask), 'pass' when none */
  readonly action: 'pass' | FilterAction;
  /** the text to publish: the input unless action is 'mask' (then every matched span replaced by '*' per character) */
  readonly text: string;
  /** names of the lists that hit, in the order of the lists */
  readonly lists: readonly string[];
}
