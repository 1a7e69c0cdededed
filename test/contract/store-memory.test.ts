// Every storage contract against the memory implementations (standalone mode).

import t from 'tap';
import { MemoryGroups } from '../../src/store/groups/memory.js';
import { MemoryRoomHistory } from '../../src/store/history/memory.js';
import { MemoryIntake } from '../../src/store/intake/memory.js';
import { MemoryDeduper, MemoryRateLimiter } from '../../src/store/limits/memory.js';
import { MemoryPresenceCounts } from '../../src/store/presence/memory.js';
import { MemorySequencer } from '../../src/store/sequence/memory.js';
import { single } from './fixture.js';
import { groupsContract } from './groups-suite.js';
import { historyContract } from './history-suite.js';
import { intakeContract } from './intake-suite.js';
import { limitsContract } from './limits-suite.js';
import { presenceContract } from './presence-suite.js';
import { sequenceContract } from './sequence-suite.js';

// One process: every "instance" is the same object.
historyContract(t, async ({ replaySize }) => single(new MemoryRoomHistory({ capacity: replaySize })));
sequenceContract(t, async () => single(new MemorySequencer()));
presenceContract(t, async () => single(new MemoryPresenceCounts()));
limitsContract(t, async () => single({ limiter: new MemoryRateLimiter(), deduper: new MemoryDeduper() }));
groupsContract(t, async () => single(new MemoryGroups()));
intakeContract(t, async () => {
  const sequencer = new MemorySequencer();
  return single(new MemoryIntake(new MemoryDeduper(), new MemoryRateLimiter(), (scope) => sequencer.next(scope)));
});
