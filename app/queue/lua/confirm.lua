-- confirm: PostgreSQL granted a claim. Redis records it as PostgreSQL has it (holder, the
-- exact lease deadline, the reviewer's live claims, the reviewer now on the submission), and
-- the feed and the earner hear of it, in one round trip after the commit.
-- ARGV: [1] prefix, [2] task id, [3] 'cred:pool', [4] reviewer id, [5] lease deadline
--       (epoch s), [6] submission id, [7] feed channel, [8] feed message, [9] user channel,
--       [10] user message ('' when nobody is told)
-- Returns 1.
local p, task, pool, reviewer = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local tag = p .. 'q:{' .. pool .. '}'
redis.call('ZREM', tag .. ':open', task)
redis.call('ZADD', tag .. ':lease', ARGV[5], task)
redis.call('HSET', tag .. ':holder', task, reviewer)
redis.call('SADD', p .. 'q:held:' .. reviewer, task)
redis.call('SADD', p .. 'q:holders', reviewer)
redis.call('SADD', p .. 'q:on:' .. ARGV[6], reviewer)
redis.call('PUBLISH', ARGV[7], ARGV[8])
if ARGV[10] ~= '' then redis.call('PUBLISH', ARGV[9], ARGV[10]) end
return 1
