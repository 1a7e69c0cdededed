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
  t.test('groups - the groups of a user and group sizes follow add, remove and delete', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    const sorted = async (uid: string) => (await b.groupsOf(uid)).sort();
    await a.create('g1');
    await a.create('g2');
    await a.add('g1', ['u1', 'u2'], 10);
    await a.add('g2', ['u1'], 10);
    t.same(await sorted('u1'), ['g1', 'g2']);
    t.same(await sorted('u2'), ['g1']);
    t.same(await sorted('nobody'), []);
    t.same(await b.sizes(['g1', 'g2', 'nope']), [2, 1, 0], '0 for a missing group');
    t.same(await b.sizes([]), []);
    await t.rejects(a.add('g2', ['u3', 'u4'], 2), GroupFullError);
    t.same(await sorted('u3'), [], 'a refused add indexes nobody');
    t.equal(await a.remove('g1', ['u1']), 1);
    t.same(await sorted('u1'), ['g2']);
    t.equal(await a.add('g1', ['u1', 'u2'], 10), 1);
    t.same(await sorted('u1'), ['g1', 'g2'], 'added again');
    t.equal(await a.delete('g1'), true);
    t.same(await sorted('u1'), ['g2'], 'a deleted group leaves its members');
    t.same(await sorted('u2'), []);
    t.same(await b.sizes(['g1', 'g2']), [0, 1]);
    await a.create('g1');
    t.same(await b.sizes(['g1']), [0], 'created again: empty');
    t.same(await sorted('u2'), []);
  });
}
