// The contract every Groups implementation passes (memory and Redis).

import type { Test } from 'tap';
import { GroupFullError, type Groups } from '../../src/store/groups/index.js';
import type { Fixture } from './fixture.js';

export function groupsContract(t: Test, make: () => Promise<Fixture<Groups>>): void {
  t.test('groups - create, add and remove members, membership, delete', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    t.equal(await a.create('g1'), true, 'created');
    t.equal(await b.create('g1'), false, 'exists already');
    t.equal(await a.add('g1', ['u1', 'u2', 'u2'], 10), 2, 'duplicates count once');
    t.equal(await b.add('g1', ['u2', 'u3'], 10), 1, 'only new members count');
    t.same((await b.members('g1'))!.sort(), ['u1', 'u2', 'u3']);
    t.equal(await a.isMember('g1', 'u3'), true);
    t.equal(await a.isMember('g1', 'u9'), false);
    t.equal(await a.remove('g1', ['u3', 'u9']), 1, 'only members count');
    await t.rejects(a.add('g1', ['x1', 'x2', 'x3', 'u1'], 4), GroupFullError, 'over the cap adds nobody');
    t.equal(await a.add('g1', ['x1', 'x1'], 3), 1, 'a uid given twice counts once against the cap');
    t.equal(await a.remove('g1', ['x1']), 1);
    t.same((await a.members('g1'))!.sort(), ['u1', 'u2']);
    t.equal(await a.add('nope', ['u1'], 10), null, 'no such group');
    t.equal(await a.remove('nope', ['u1']), null);
    t.equal(await a.members('nope'), null);
    t.equal(await a.create('empty'), true);
    t.same(await b.members('empty'), [], 'an empty group exists');
    t.equal(await b.delete('g1'), true);
    t.equal(await a.delete('g1'), false, 'deleted once');
    t.equal(await a.members('g1'), null);
    t.equal(await a.isMember('g1', 'u1'), false, 'no members after delete');
  });
}
