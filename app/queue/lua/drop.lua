-- drop: a task leaves the live queue for good (completed, cancelled, moved to experts):
-- out of the open set and the leases, its holder's live claims and its facts.
-- ARGV: [1] prefix, [2] task id, [3] 'cred:pool'
-- Returns 1.
local p, task, pool = ARGV[1], ARGV[2], ARGV[3]
local tag = p .. 'q:{' .. pool .. '}'
local holder = redis.call('HGET', tag .. ':holder', task)
if holder then redis.call('SREM', p .. 'q:held:' .. holder, task) end
redis.call('ZREM', tag .. ':open', task)
redis.call('ZREM', tag .. ':lease', task)
redis.call('HDEL', tag .. ':holder', task)
redis.call('HDEL', p .. 'q:task', task)
redis.call('HDEL', p .. 'q:card', task)
return 1
