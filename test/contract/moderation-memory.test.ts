// The moderation store's contract against the memory implementation (standalone mode).

import t from 'tap';
import { MemoryModerationStore } from '../../src/store/moderation/memory.js';
import { single } from './fixture.js';
import { moderationContract } from './moderation-suite.js';

// One process: every "instance" is the same object.
moderationContract(t, async () => single(new MemoryModerationStore()));
