-- open: put a task (back) into its pool's open set, with its facts and card, and free it
-- from whoever held it (who is then no longer on the packet). Used when a task opens, is released, expires, or a reservation was
-- refused by PostgreSQL while the task is still open there.
-- ARGV: [1] prefix, [2] task id, [3] 'cred:pool', [4] priority, [5] meta
--       ('cred:pool|submission|earner|school'; '' keeps the stored one), [6] card JSON ('' keeps
--       the stored card), [7] only this reviewer's reservation ('' whoever holds it)
-- Returns 1, or 0 when [7] names a reviewer who no longer holds it (nothing changed).
local p, task, pool = ARGV[1], ARGV[2], ARGV[3]
local tag = p .. 'q:{' .. pool .. '}'
local holder = redis.call('HGET', tag .. ':holder', task)
if ARGV[7] ~= '' and holder and holder ~= ARGV[7] then return 0 end
if holder then
  -- The holder leaves the packet too (PostgreSQL cleared the task's reviewer): they may be
  -- offered it again, as the eligibility rules say.
  redis.call('SREM', p .. 'q:held:' .. holder, task)
  local known = ARGV[5] ~= '' and ARGV[5] or redis.call('HGET', p .. 'q:task', task)
  if known then
    redis.call('SREM', p .. 'q:on:' .. string.match(known, '^[^|]*|([^|]*)'), holder)
  end
end
redis.call('ZREM', tag .. ':lease', task)
redis.call('HDEL', tag .. ':holder', task)
if ARGV[5] ~= '' then redis.call('HSET', p .. 'q:task', task, ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', p .. 'q:card', task, ARGV[6]) end
redis.call('ZADD', tag .. ':open', ARGV[4], task)
redis.call('SET', tag .. ':ready', '1')
return 1
