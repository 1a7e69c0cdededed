// What the SDK does after each close code (src/sdk/close-codes.ts): its copy of
// shouldReconnect() agrees with the server's catalogue (src/protocol/errors.ts) on every code,
// and a refused token is retried only when the token is a function.

import t from 'tap';
import { CloseCodes, shouldReconnect as serverShouldReconnect } from '../../src/protocol/errors.js';
import { closeAction, shouldReconnect } from '../../src/sdk/close-codes.js';

t.test('sdk close codes - the SDK and the catalogue agree on every code', async (t) => {
  const differ: number[] = [];
  for (let code = 1000; code <= 4999; code++) if (shouldReconnect(code) !== serverShouldReconnect(code)) differ.push(code);
  t.same(differ, []);
});

t.test('sdk close codes - reconnect, or fail', async (t) => {
  const table: [number | undefined, boolean, string][] = [
    [undefined, false, 'reconnect'], // dropped by the client itself
    [1006, false, 'reconnect'],
    [CloseCodes.Restart.code, false, 'reconnect'],
    [CloseCodes.IdleTimeout.code, false, 'reconnect'],
    [CloseCodes.SlowConsumer.code, false, 'reconnect'],
    [CloseCodes.Flood.code, false, 'reconnect'],
    [CloseCodes.TextFrame.code, true, 'fail'],
    [CloseCodes.TooLarge.code, true, 'fail'],
    [CloseCodes.TokenInvalid.code, false, 'fail'],
    [CloseCodes.TokenInvalid.code, true, 'reconnect'],
    [CloseCodes.TokenExpired.code, false, 'fail'],
    [CloseCodes.TokenExpired.code, true, 'reconnect'],
    [CloseCodes.GuestsDisabled.code, true, 'fail'],
    [CloseCodes.TokenTooLarge.code, true, 'fail'],
    [CloseCodes.UserConnections.code, true, 'fail'],
    [CloseCodes.UserConnections.code, false, 'fail'],
    [4999, true, 'fail'],
    [4499, false, 'reconnect'],
  ];
  for (const [code, fn, want] of table) t.equal(closeAction(code, fn), want, `${code} with ${fn ? 'a token function' : 'a static token'}: ${want}`);
});
