// The harness stops the processes it started when it is interrupted (bench/lib/children.ts).

import { spawn } from 'node:child_process';
import t from 'tap';
import { stopAll, track, tracked } from '../../bench/lib/children.js';

t.test('bench children - stopAll ends every tracked process, one that ignores SIGTERM by SIGKILL', async (t) => {
  const polite = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const stubborn = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"], { stdio: ['ignore', 'pipe', 'ignore'] });
  let cleaned = 0;
  track(polite, () => cleaned++);
  track(stubborn);
  await new Promise((r) => stubborn.stdout!.once('data', r)); // its SIGTERM handler is in place
  t.equal(tracked(), 2);
  await stopAll();
  t.equal(tracked(), 0, 'none left');
  t.equal(polite.signalCode, 'SIGTERM');
  t.equal(stubborn.signalCode, 'SIGKILL', 'the one that ignored SIGTERM was killed after the grace');
  t.equal(cleaned, 1, 'the cleanup of the first ran once it had exited');
});
