// Every storage contract against the Redis implementations (cluster mode), on a real
// redis-server; two instances are two connections, as two processes would have.

import t from 'tap';
import { RedisChatStore } from '../../src/store/chat/redis.js';
import { RedisGroups } from '../../src/store/groups/redis.js';
import { RedisRoomHistory } from '../../src/store/history/redis.js';
import { RedisIntake } from '../../src/store/intake/redis.js';
import { RedisPresenceCounts } from '../../src/store/presence/redis.js';
import { RedisSequencer } from '../../src/store/sequence/redis.js';
import { redisFixture } from '../helpers/redis-fixture.js';
import { chatContract } from './chat-suite.js';
import { groupsContract } from './groups-suite.js';
import { historyContract } from './history-suite.js';
import { intakeContract } from './intake-suite.js';
import { presenceContract } from './presence-suite.js';
import { sequenceContract } from './sequence-suite.js';

historyContract(t, (limits) => redisFixture((ctx) => new RedisRoomHistory(ctx, limits)));
sequenceContract(t, () => redisFixture((ctx) => new RedisSequencer(ctx)));
presenceContract(t, () => redisFixture((ctx) => new RedisPresenceCounts(ctx)));
intakeContract(t, () => redisFixture((ctx) => new RedisIntake(ctx)));
groupsContract(t, () => redisFixture((ctx) => new RedisGroups(ctx)));
chatContract(t, (limits) => redisFixture((ctx) => new RedisChatStore(ctx, limits)));
