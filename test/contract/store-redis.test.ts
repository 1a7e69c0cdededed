// Every storage contract against the Redis implementations (cluster mode), on a real
// redis-server; two instances are two connections, as two processes would have.

import t from 'tap';
import { RedisGroups } from '../../src/store/groups/redis.js';
import { RedisRoomHistory } from '../../src/store/history/redis.js';
import { RedisDeduper, RedisRateLimiter } from '../../src/store/limits/redis.js';
import { RedisPresenceCounts } from '../../src/store/presence/redis.js';
import { RedisSequencer } from '../../src/store/sequence/redis.js';
import { redisFixture } from '../helpers/redis-fixture.js';
import { groupsContract } from './groups-suite.js';
import { historyContract } from './history-suite.js';
import { limitsContract } from './limits-suite.js';
import { presenceContract } from './presence-suite.js';
import { sequenceContract } from './sequence-suite.js';

historyContract(t, ({ replaySize }) => redisFixture((ctx) => new RedisRoomHistory(ctx, replaySize)));
sequenceContract(t, () => redisFixture((ctx) => new RedisSequencer(ctx)));
presenceContract(t, () => redisFixture((ctx) => new RedisPresenceCounts(ctx)));
limitsContract(t, () => redisFixture((ctx) => ({ limiter: new RedisRateLimiter(ctx), deduper: new RedisDeduper(ctx) })));
groupsContract(t, () => redisFixture((ctx) => new RedisGroups(ctx)));
