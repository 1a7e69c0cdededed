import t from 'tap';
import fc from 'fast-check';
import { AhoCorasick } from '@monyone/aho-corasick/fast';
import { ContentFilter, FilterListError, normalizeForMatch, parseWordLists, type WordList } from '../../src/logic/filter/index.js';
import { Automaton, newMatches } from '../../src/logic/filter/automaton.js';
import { continuesCluster } from '../../src/logic/filter/content-filter.js';
import { ASTRAL_CACHE_MAX, astralCacheSize, astralRange, mapCodePoint, normalizeInto, scratch } from '../../src/logic/filter/normalize.js';

// The property tests' seed is printed; FUZZ_SEED=<n> (as for the fuzz tests; FILTER_TEST_SEED too) replays a run.
const SEED = Number(process.env.FUZZ_SEED ?? process.env.FILTER_TEST_SEED ?? Date.now() % 2 ** 31);
t.comment(`FUZZ_SEED=${SEED}`);
const RUNS = { seed: SEED, numRuns: 300 };

function filter(...lists: [string, WordList['action'], string[]][]): ContentFilter {
  return new ContentFilter(lists.map(([name, action, words]) => ({ name, action, words })));
}

function codePoints(s: string): string[] {
  return [...s];
}

/** `s` in the clusters masking stars as one: a code point with the modifiers, selectors, tags and ZWJ-joined parts after it. */
function clusters(s: string): string[] {
  const out: string[] = [];
  let prev = -1;
  for (const c of s) {
    const cp = c.codePointAt(0)!;
    if (out.length > 0 && continuesCluster(cp, prev)) out[out.length - 1] += c;
    else out.push(c);
    prev = cp;
  }
  return out;
}

t.test('filter - normalisation folds case and width, drops separators and invisible characters', async (t) => {
  t.equal(normalizeForMatch('BaD'), 'bad');
  t.equal(normalizeForMatch('ＢＡＤ'), 'bad', 'full-width forms');
  t.equal(normalizeForMatch('b\u200bad'), 'bad', 'zero-width space');
  t.equal(normalizeForMatch('b\u00ada\u2060d\ufeff'), 'bad', 'soft hyphen, word joiner, BOM');
  t.equal(normalizeForMatch('b a  d'), 'bad', 'spaces');
  t.equal(normalizeForMatch('b.a-d_!'), 'bad', 'punctuation');
  t.equal(normalizeForMatch('b\u3000a、d。'), 'bad', 'ideographic space and CJK punctuation');
  t.equal(normalizeForMatch('Bád'), 'bad', 'Latin diacritics');
  t.equal(normalizeForMatch('ba\u0301\u0336d'), 'bad', 'combining marks (Zalgo, strike-through)');
  t.equal(normalizeForMatch('主播好厉害！！666 awesome'), '主播好厉害666 awesome', 'mixed CJK: no boundary next to CJK, one between words');
  t.equal(normalizeForMatch('has  sold, ok'), 'has sold ok', 'a separator run between words is one boundary');
  t.equal(normalizeForMatch('a b c def'), 'abc def', 'single letters join; a word after them is apart');
  t.equal(normalizeForMatch('x ab c d'), 'x ab cd');
  t.equal(normalizeForMatch('b\tad\nok'), 'b ad ok', 'tab and line feed separate');
  t.equal(normalizeForMatch(' bad guy. '), 'bad guy', 'no boundary at either end');
  t.equal(normalizeForMatch('你这个傻 瓜 ok'), '你这个傻瓜ok', 'no boundary next to CJK');
  t.equal(normalizeForMatch('ﾊﾞｶ'), 'バカ', 'half-width katakana and its voicing mark compose');
  t.equal(normalizeForMatch('か\u3099'), 'が', 'a decomposed voiced kana composes');
  t.equal(normalizeForMatch('か \u3099'), 'か\u3099', 'not across a space');
  t.equal(normalizeForMatch('がき'), 'がき', 'kana voicing is kept (ばか is not はか)');
  t.equal(normalizeForMatch('한국어'), '한국어', 'Hangul syllables stay whole');
  t.equal(normalizeForMatch('❤️😀'), '❤😀', 'emoji keep, variation selectors go');
  t.equal(normalizeForMatch('𝐁𝐀𝐃'), 'bad', 'mathematical letters');
  t.equal(normalizeForMatch('ﬁne'), 'fine', 'ligatures');
  t.equal(normalizeForMatch('x\ud800y\udc00'), 'x\ufffdy\ufffd', 'lone surrogates become U+FFFD');
  t.equal(normalizeForMatch(''), '');
  t.equal(normalizeForMatch('abc'), 'abc');
});

t.test('filter - words match whatever the spelling variant of the text', async (t) => {
  const f = filter(['bad', 'reject', ['Bad', '傻瓜', 'バカ', '😀x']]);
  for (const text of ['bad', 'ＢＡＤ', 'so B a D!', 'b\u200bad', 'b.a.d', 'bád', '你这个傻 瓜', 'ﾊﾞｶ', 'q😀X', '😀\ufe0fx']) {
    t.equal(f.check(text).action, 'reject', JSON.stringify(text));
  }
  for (const text of ['ba', 'good', '傻', 'はか', '😀', 'x😀', '', 'b\ud800ad']) {
    t.same(f.check(text), { action: 'pass', text, lists: [] }, JSON.stringify(text));
  }
  t.equal(f.wordCount, 4);
});

t.test('filter - evasions: any combining mark on a Latin, Greek or Cyrillic letter, the Braille blank, conjoining jamo', async (t) => {
  t.equal(normalizeForMatch('b\u0e31a\u0e49\u0e49d'), 'bad', 'Thai marks on Latin letters are dropped');
  t.equal(normalizeForMatch('ba\u3099d\u0903'), 'bad', 'kana voicing and Devanagari marks on Latin letters too');
  t.equal(normalizeForMatch('b\u200b\u0e31ad'), 'bad', 'after an invisible character too');
  t.equal(normalizeForMatch('α\u0e31β'), 'αβ', 'Greek');
  t.equal(normalizeForMatch('д\u0bcdа'), 'да', 'Cyrillic');
  t.equal(normalizeForMatch('7\u0e31'), '7', 'an ASCII digit');
  t.equal(normalizeForMatch('ก\u0e31'), 'ก\u0e31', 'Thai marks on Thai letters are kept');
  t.equal(normalizeForMatch('か\u3099'), 'が', 'kana voicing still composes');
  t.equal(normalizeForMatch('b\u2800a\u2800d'), 'bad', 'the Braille blank is invisible');
  t.equal(normalizeForMatch('\u1112\u1161\u11ab\u1100\u116e\u11a8'), '한국', 'conjoining jamo compose into syllables');
  t.equal(normalizeForMatch('\ud558\u11ab'), '한', 'a syllable and a final consonant');
  t.equal(normalizeForMatch('\u1112 \u1161'), '\u1112\u1161', 'not across a separator');
  const f = filter(['m', 'mask', ['bad', '한국']]);
  t.equal(f.check('b\u0e31ad!').text, '****!');
  t.equal(f.check('\u1112\u1161\u11ab\u1100\u116e\u11a8 ok').text, '****** ok', 'one star per jamo code point');
  t.equal(f.check('b\u2800ad').text, '****');
});

t.test('filter - words do not match across word boundaries; the spaced-out spelling still matches', async (t) => {
  const f = filter(['m', 'mask', ['shit', 'ass', 'nazi', 'bad', 'bad guy', '傻瓜']]);
  for (const text of ['this hit song', 'has sold', 'I was sure', 'Ana Zimmer', 'ba dog', 'b ad', 'ba d']) {
    t.same(f.check(text), { action: 'pass', text, lists: [] }, JSON.stringify(text));
  }
  const masked: [string, string][] = [
    ['has sold ass', 'has sold ***'],
    ['b a d', '*****'],
    ['b.a.d', '*****'],
    ['b-a-d', '*****'],
    ['ｂ ａ ｄ', '*****'],
    ['b\u200bad', '****'],
    ['BAD', '***'],
    ['bad!', '***!'],
    ['so b a d!', 'so *****!'],
    ['bad  guy', '********'],
    ['bad.guy now', '******* now'],
    ['傻 瓜', '***'],
    ['傻。瓜!', '***!'],
    ['ok 傻、 瓜 ok', 'ok **** ok'],
  ];
  for (const [text, out] of masked) t.equal(f.check(text).text, out, JSON.stringify(text));
});

t.test('filter - the strongest list decides: reject > hold > mask; every list that hit is named', async (t) => {
  const f = filter(['m', 'mask', ['damn']], ['h', 'hold', ['spam']], ['r', 'reject', ['slur']], ['m2', 'mask', ['heck']]);
  t.same(f.check('damn heck'), { action: 'mask', text: '**** ****', lists: ['m', 'm2'] });
  t.same(f.check('damn spam'), { action: 'hold', text: 'damn spam', lists: ['m', 'h'] }, 'hold: the text as sent');
  t.same(f.check('slur spam damn'), { action: 'reject', text: 'slur spam damn', lists: ['m', 'h', 'r'] });
  t.same(f.check('fine'), { action: 'pass', text: 'fine', lists: [] });
  const both = filter(['a', 'mask', ['word']], ['b', 'reject', ['WORD']]);
  t.same(both.check('a word').lists, ['a', 'b'], 'one word in two lists');
  t.equal(both.check('a word').action, 'reject');
});

t.test('filter - mask stars the original characters of each match, separators inside included', async (t) => {
  const f = filter(['m', 'mask', ['bad', '傻瓜', '😀x', 'ab']]);
  t.equal(f.check('so b a d!').text, 'so *****!');
  t.equal(f.check('ＢＡＤ day').text, '*** day');
  t.equal(f.check('b\u200bad').text, '****', 'the zero-width space is inside the span');
  t.equal(f.check('这是傻瓜吗').text, '这是**吗');
  t.equal(f.check('q😀x!').text, 'q**!', 'a surrogate pair becomes one star');
  t.equal(f.check('😀😀x').text, '😀**');
  t.equal(f.check('ba\u0301d\u0301 ok').text, '***** ok', 'combining marks of the last letter too');
  t.equal(f.check('abad').text, '****', 'overlapping matches');
  t.equal(f.check('bad, bad').text, '***, ***', 'punctuation between two matches stays');
  t.equal(f.check('ﾊﾞｶ').action, 'pass');
  t.equal(f.check('x\ud800bad').text, 'x\ud800***', 'a lone surrogate before is left alone');
});

t.test('filter - astral code points: the range table agrees with the full mapping for every one', async (t) => {
  let wrong = 0;
  for (let cp = 0x10000; cp <= 0x10ffff; cp++) {
    const range = astralRange(cp);
    if (range === 0) continue; // FULL: mapped and cached
    const ch = String.fromCodePoint(cp);
    const e = mapCodePoint(cp);
    // an unassigned code point in planes 2-3 counts as an ideograph (unspaced) ahead of its assignment
    const ok = e.kind === 1 && e.s === ch && (e.unspaced === (range as { unspaced: boolean }).unspaced || /^\p{Cn}$/u.test(ch));
    if (!ok && wrong++ < 5) t.fail(`U+${cp.toString(16)} maps to ${JSON.stringify(e)} but the range table says it maps to itself`);
  }
  t.equal(wrong, 0, 'every code point outside the FULL ranges maps to itself');
  t.ok(ASTRAL_CACHE_MAX < 70_000, `the cache bound (${ASTRAL_CACHE_MAX}) is the size of the FULL ranges`);
});

t.test('filter - astral code points: 100,000 distinct ones do not grow the cache beyond its bound; emoji cost no cache entry', async (t) => {
  const f = filter(['m', 'mask', ['😀x', '𝐁𝐀𝐃']]);
  let text = '';
  for (let k = 0; k < 100_000; k++) {
    text += String.fromCodePoint(0x10000 + ((k * 10_007) % 0x100000));
    if (text.length >= 400) {
      f.check(text);
      text = '';
    }
  }
  const size = astralCacheSize();
  t.ok(size <= ASTRAL_CACHE_MAX, `cache ${size} <= ${ASTRAL_CACHE_MAX}`);
  let emoji = '';
  for (let cp = 0x1f300; cp < 0x1fa00; cp++) if (cp < 0x1f3fb || cp > 0x1f3ff) emoji += String.fromCodePoint(cp); // skin-tone modifiers are mapped (attached)
  t.equal(f.check(emoji + '😀X').text, emoji + '**', 'a text of every emoji');
  t.equal(f.check('CJK 𠀀𪜀 ok').action, 'pass');
  t.equal(astralCacheSize(), size, 'emoji and plane-2 ideographs take no cache entry');
  t.equal(f.check('𝐁𝐀𝐃').text, '***', 'mathematical letters still map');
});

t.test('filter - mask: an emoji with its skin tone, variation selector or ZWJ-joined parts is one star', async (t) => {
  const f = filter(['m', 'mask', ['👍x', '👩', 'bad', '❤']]);
  t.equal(f.check('👍🏻x ok').text, '** ok', 'a skin-tone modifier');
  t.equal(f.check('👍🏽X').action, 'mask', 'the modifier does not break the match');
  t.equal(f.check('a 👨\u200d👩\u200d👧 b').text, 'a * b', 'a ZWJ family, matched in its middle');
  t.equal(f.check('👩🏽\u200d💻 hi').text, '* hi');
  t.equal(f.check('❤️ love').text, '* love', 'a variation selector');
  t.equal(f.check('bad😀').text, '***😀', 'an emoji after a match is not in it');
  t.equal(f.check('🏻bad').text, '🏻***', 'a modifier with no emoji before it is left alone');
});

t.test('filter - load builds the new lists, then swaps them in', async (t) => {
  const f = new ContentFilter();
  t.equal(f.wordCount, 0);
  t.equal(f.check('bad').action, 'pass');
  f.load([{ name: 'a', action: 'reject', words: ['bad', 'bad', ' B A D ', 'worse'] }]);
  t.equal(f.wordCount, 2, 'a word repeated in one list counts once');
  t.equal(f.check('bad').action, 'reject');
  f.load([{ name: 'b', action: 'hold', words: ['good'] }]);
  t.equal(f.check('bad').action, 'pass', 'the old words are gone');
  t.same(f.check('good').lists, ['b']);
  f.load([]);
  t.equal(f.wordCount, 0);
  t.equal(f.check('good').action, 'pass');
  f.load([{ name: 'c', action: 'mask', words: ['\u200b', ' '] }]);
  t.equal(f.check('anything').action, 'pass', 'words empty once normalised are left out');
});

t.test('filter - parseWordLists takes the documented format', async (t) => {
  const json = JSON.parse('{"lists":[{"name":"slurs","action":"reject","words":["a1","b2"]},{"name":"ads_2","action":"mask","words":[]}]}');
  t.same(parseWordLists(json), [
    { name: 'slurs', action: 'reject', words: ['a1', 'b2'] },
    { name: 'ads_2', action: 'mask', words: [] },
  ]);
  t.same(parseWordLists({ lists: [] }), []);
});

t.test('filter - parseWordLists refuses bad input, naming the entry', async (t) => {
  const cases: [unknown, RegExp][] = [
    [null, /expected \{"lists"/],
    [[], /expected \{"lists"/],
    [{ lists: {} }, /expected \{"lists"/],
    [{ lists: [3] }, /lists\[0\] is not an object/],
    [{ lists: [{ name: 'Bad', action: 'mask', words: [] }] }, /lists\[0\]\.name must match/],
    [{ lists: [{ name: 'x'.repeat(33), action: 'mask', words: [] }] }, /lists\[0\]\.name/],
    [{ lists: [{ action: 'mask', words: [] }] }, /lists\[0\]\.name/],
    [{ lists: [{ name: 'a', action: 'mask', words: [] }, { name: 'a', action: 'hold', words: [] }] }, /lists\[1\] \("a"\): a list of that name/],
    [{ lists: [{ name: 'a', action: 'delete', words: [] }] }, /lists\[0\] \("a"\)\.action must be one of reject, hold, mask/],
    [{ lists: [{ name: 'a', action: 'mask', words: 'bad' }] }, /words must be an array/],
    [{ lists: [{ name: 'a', action: 'mask', words: ['ok', 7] }] }, /lists\[0\] \("a"\)\.words\[1\] is not a string/],
    [{ lists: [{ name: 'a', action: 'mask', words: [''] }] }, /words\[0\] \(""\) is empty once normalised/],
    [{ lists: [{ name: 'a', action: 'mask', words: [' .\u200b '] }] }, /is empty once normalised/],
    [{ lists: [{ name: 'a', action: 'mask', words: ['x'.repeat(65)] }] }, /longer than 64 characters once normalised/],
    [{ lists: [{ name: 'a', action: 'mask', words: ['x'.repeat(300)] }] }, /longer than 256 UTF-16 units/],
    [{ lists: [{ name: 'a', action: 'mask', words: ['a\ud800'] }] }, /lone surrogate/],
    [{ lists: [{ name: 'a', action: 'mask', words: new Array(60_000).fill('w') }, { name: 'b', action: 'mask', words: new Array(40_001).fill('w') }] }, /lists\[1\] \("b"\): more than 100000 words/],
    [{ lists: Array.from({ length: 65 }, (_, i) => ({ name: `l${i}`, action: 'mask', words: [] })) }, /more than 64 lists \(65\)/],
    [{ lists: [{ name: 'a', action: 'mask', words: new Array(31_250).fill('x'.repeat(64)) }, { name: 'b', action: 'mask', words: ['ok'] }] }, /lists\[1\] \("b"\)\.words\[0\]: the words of all lists are longer than 2000000 UTF-16 units/],
  ];
  for (const [json, message] of cases) {
    t.throws(() => parseWordLists(json), { name: 'FilterListError', message }, JSON.stringify(json)?.slice(0, 80));
  }
  t.doesNotThrow(() => parseWordLists({ lists: Array.from({ length: 64 }, (_, i) => ({ name: `l${i}`, action: 'mask', words: [] })) }), '64 lists');
  t.doesNotThrow(() => parseWordLists({ lists: [{ name: 'a', action: 'mask', words: new Array(31_250).fill('x'.repeat(64)) }] }), '2,000,000 units');
  t.ok(new FilterListError('x') instanceof Error);
  t.doesNotThrow(() => parseWordLists({ lists: [{ name: 'a', action: 'mask', words: ['x'.repeat(64), '😀'.repeat(64), 'Ｘ'.repeat(64)] }] }), '64 characters after normalisation');
});

// Property tests. Text characters: anything, lone surrogates included.
const anyText = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const mixedText = fc.string({
  unit: fc.oneof(anyText.map((s) => s.slice(0, 1)), fc.constantFrom('a', 'b', 'c', 'あ', 'い', '😀', '漢', ' ', '\u200b', '.', 'Ａ', '\u0301', '\u3099', '\u200d', '🏻', '\ufe0f')),
  maxLength: 40,
});
/** Word characters that normalisation keeps as they are. */
const wordChar = fc.constantFrom('a', 'b', 'c', 'x', '7', 'あ', 'い', 'が', '漢', '字', '한', '😀', '🎉');
const word = fc.array(wordChar, { minLength: 1, maxLength: 6 }).map((cs) => cs.join(''));
const lists = fc.array(fc.tuple(fc.constantFrom<WordList['action']>('reject', 'hold', 'mask', 'mask', 'mask'), fc.array(word, { maxLength: 8 })), { maxLength: 4 })
  .map((ls) => ls.map(([action, words], i) => ({ name: `l${i}`, action, words })));

t.test('filter - property: check never throws; a masked text differs from its input only by stars, one per code point (an emoji cluster is one)', async (t) => {
  // texts of random pieces and listed words, so that about half of them hit a list
  const pieces = fc.array(fc.oneof(mixedText.map((s) => ({ s })), fc.nat().map((i) => ({ i }))), { maxLength: 6 });
  fc.assert(
    fc.property(lists, pieces, (ls, ps) => {
      const words = ls.flatMap((l) => l.words);
      const text = ps.map((p) => ('s' in p ? p.s : words[p.i % Math.max(1, words.length)] ?? '')).join('');
      const v = new ContentFilter(ls).check(text);
      if (v.action !== 'mask') return v.text === text;
      const a = clusters(text);
      const b = clusters(v.text);
      return a.length === b.length && b.some((c) => c === '*') && a.every((c, i) => b[i] === c || b[i] === '*');
    }),
    RUNS,
  );
  t.pass('held');
});

t.test('filter - property: a word put into a text with case, width and separators where they are bridged is found', async (t) => {
  const plain = fc.string({ unit: fc.constantFrom('q', 'z', '好', '🙂', ' ', '!', '\u200b', 'Z'), maxLength: 12 });
  const invisible = fc.constantFrom('', '', '\u200b', '\u00ad', '\ufeff');
  const visible = fc.constantFrom(' ', '.', '-', ' \u200b ', '  ');
  const unspaced = /^[あいが漢字한]$/u;
  fc.assert(
    fc.property(word, plain, plain, fc.array(fc.oneof(invisible, visible), { minLength: 6, maxLength: 6 }), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), fc.boolean(), (w, before, after, seps, wide, spaced) => {
      const cs = codePoints(w);
      // separators are bridged between single letters ("b a d": then around the word too) and next to CJK
      const spacedOut = spaced && cs.every((c) => !unspaced.test(c));
      const spelt = cs.map((c, i) => {
        const variant = /[a-z]/.test(c) ? (wide[i] ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c.toUpperCase()) : c;
        const sep = i === 0 ? '' : spacedOut ? seps[i]!.replace(/^[^ .-]*$/, '.') : unspaced.test(c) || unspaced.test(cs[i - 1]!) || /^[^ .-]*$/.test(seps[i]!) ? seps[i]! : '';
        return sep + variant;
      }).join('');
      const text = spacedOut ? `${before} ${spelt} ${after}` : before + spelt + after;
      const v = filter(['l', 'mask', [w]]).check(text);
      return v.action === 'mask' && v.lists[0] === 'l' && v.text.includes('*'.repeat(codePoints(spelt).length));
    }),
    RUNS,
  );
  t.pass('held');
});

t.test('filter - property: the automaton finds what @monyone/aho-corasick finds', async (t) => {
  const small = fc.string({ unit: fc.constantFrom('a', 'b', 'あ', '😀', '\ud83d'), minLength: 1, maxLength: 5 });
  const matches = newMatches();
  fc.assert(
    fc.property(fc.uniqueArray(small, { minLength: 1, maxLength: 30 }), fc.string({ unit: fc.constantFrom('a', 'b', 'あ', '😀', 'c'), maxLength: 60 }), (words, text) => {
      const automaton = new Automaton(words);
      normalizeInto(text);
      const units = String.fromCharCode(...scratch.units.subarray(0, scratch.length));
      automaton.scan(scratch.units, scratch.length, matches);
      const ours = Array.from({ length: matches.count }, (_, i) => `${matches.begin[i]}:${matches.end[i]}:${automaton.words[matches.word[i]!]}`).sort();
      const theirs = new AhoCorasick(words).matchInText(units).map((m) => `${m.begin}:${m.end}:${m.keyword}`).sort();
      return ours.join() === theirs.join();
    }),
    RUNS,
  );
  t.pass('held');
});
