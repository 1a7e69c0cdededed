// The moderation store's contract against Redis (cluster mode), on a real redis-server; two
// instances are two connections, as two processes would have.

import t from 'tap';
import { RedisModerationStore } from '../../src/store/moderation/redis.js';
import { redisFixture } from '../helpers/redis-fixture.js';
import { moderationContract } from './moderation-suite.js';

moderationContract(t, () => redisFixture((ctx) => new RedisModerationStore(ctx)));
