// Deterministic word lists and danmaku texts for measuring the word filter (bench/filter.ts):
// words from a seeded PRNG, never one that the bench's TYPICAL_TEXT contains (so that a T6 run
// with the list loaded still sends messages that pass).

import { normalizeForMatch, type WordList } from '../../src/logic/filter/index.js';
import { mulberry32 } from './prng.js';
import { TYPICAL_TEXT } from './protocol.js';

/** The CJK characters words and texts draw from: 2,500 of the unified ideographs, fixed by a seed. */
function cjkPool(random: () => number): string[] {
  return Array.from({ length: 2500 }, () => String.fromCodePoint(0x4e00 + Math.floor(random() * 0x51a6)));
}

function pick<T>(random: () => number, xs: readonly T[]): T {
  return xs[Math.floor(random() * xs.length)]!;
}

function randomWord(random: () => number, pool: readonly string[]): string {
  if (random() < 0.6) {
    const n = 2 + Math.floor(random() * 7); // 2-8 ideographs
    return Array.from({ length: n }, () => pick(random, pool)).join('');
  }
  // ASCII words of 4-8 letters: random 2- or 3-letter strings would hit most English texts, which a real list does not
  const n = 4 + Math.floor(random() * 5);
  return Array.from({ length: n }, () => String.fromCharCode(0x61 + Math.floor(random() * 26))).join('');
}

/** `count` distinct words in three lists (half reject, a quarter each hold and mask). */
export function benchWordLists(count: number, seed = 15): WordList[] {
  const random = mulberry32(seed);
  const pool = cjkPool(mulberry32(seed + 1));
  const typical = normalizeForMatch(TYPICAL_TEXT);
  const words = new Set<string>();
  while (words.size < count) {
    const w = randomWord(random, pool);
    if (!typical.includes(normalizeForMatch(w))) words.add(w);
  }
  const all = [...words];
  const half = Math.floor(count / 2);
  const threeQuarters = Math.floor((count * 3) / 4);
  return [
    { name: 'bench-reject', action: 'reject', words: all.slice(0, half) },
    { name: 'bench-hold', action: 'hold', words: all.slice(half, threeQuarters) },
    { name: 'bench-mask', action: 'mask', words: all.slice(threeQuarters) },
  ];
}

/** Pieces danmaku are made of on live-stream sites. */
const PIECES = [
  '主播', '好厉害', '哈哈哈', '哈哈哈哈哈哈', '666', '6666666', '牛', '太强了', '前方高能', 'awsl', 'yyds', '233',
  '来了', '打卡', '下次一定', '泪目', '爷青回', '妙啊', 'nb', 'gg', 'lol', 'awesome', 'wow', 'nice', 'good game',
  'kawaii', '草', 'www', 'かわいい', 'いいね', '！', '！！', '？', '～', '。', '…', '、', ' ', ' ', '😂', '👍', '❤️',
  '🔥', '😭', '🎉', 'ＧＧ', '第一', '好听', '晚上好', '这波', '操作', '可以的', '笑死', '真的假的', 'hhhh', '?', '!',
];

/**
 * `count` varied danmaku of 2-30 characters: pieces from PIECES and random ideographs, and in
 * about `hitRate` of them a word from `lists` (sometimes split by a space or a zero-width space).
 */
export function benchTexts(count: number, lists: readonly WordList[], hitRate = 0.01, seed = 16): string[] {
  const random = mulberry32(seed);
  const pool = cjkPool(mulberry32(seed + 1));
  const words = lists.flatMap((l) => l.words);
  const texts: string[] = [];
  for (let i = 0; i < count; i++) {
    const target = 2 + Math.floor(random() * 29);
    let t = '';
    while ([...t].length < target) t += random() < 0.7 ? pick(random, PIECES) : pick(random, pool);
    if (words.length > 0 && random() < hitRate) {
      const w = [...pick(random, words)];
      if (random() < 0.3) w.splice(1, 0, random() < 0.5 ? ' ' : '\u200b');
      const at = Math.floor(random() * t.length);
      t = t.slice(0, at).replace(/[\ud800-\udbff]$/, '') + w.join('') + t.slice(at);
    }
    texts.push(t);
  }
  return texts;
}
