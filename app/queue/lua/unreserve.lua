-- unreserve: PostgreSQL refused a reservation this reviewer made in Redis (the task is taken
-- there, or gone, or the reviewer may not take it after all): free it from this reviewer
-- only, without putting it back in the open set (open.lua does that when it is still open).
-- ARGV: [1] prefix, [2] task id, [3] 'cred:pool', [4] reviewer id
-- Returns 1 when the reviewer held it in Redis, else 0.
local p, task, pool, reviewer = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local tag = p .. 'q:{' .. pool .. '}'
redis.call('SREM', p .. 'q:held:' .. reviewer, task)
if redis.call('HGET', tag .. ':holder', task) ~= reviewer then return 0 end
redis.call('HDEL', tag .. ':holder', task)
redis.call('ZREM', tag .. ':lease', task)
return 1
