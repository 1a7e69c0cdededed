// Client message ids (src/sdk/ids.ts): `<8 random characters>-<counter>`, valid SEND/MSG ids
// (1-64 printable ASCII), one random prefix per client, unique within it.

import t from 'tap';
import { idGenerator, randomPrefix } from '../../src/sdk/ids.js';

t.test('sdk ids - format, counter, per-client prefix', async (t) => {
  const next = idGenerator();
  const ids = Array.from({ length: 1000 }, () => next());
  t.match(ids[0], /^[A-Za-z0-9]{8}-1$/);
  t.match(ids[999], /^[A-Za-z0-9]{8}-1000$/);
  t.equal(new Set(ids).size, 1000, 'unique');
  t.ok(ids.every((id) => id.startsWith(ids[0]!.slice(0, 9))), 'one prefix per generator');
  t.ok(ids.every((id) => /^[\x21-\x7e]{1,64}$/.test(id)), 'valid client ids');
  const prefixes = new Set(Array.from({ length: 200 }, () => randomPrefix()));
  t.equal(prefixes.size, 200, 'prefixes differ between clients');
  t.equal(idGenerator('fixed')(), 'fixed-1');
  t.equal(randomPrefix(12).length, 12);
});
