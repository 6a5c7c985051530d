-- claim: take one given task for a reviewer in Redis, or say why not, in one atomic step.
-- Guards: one holder per task; never past the reviewer's live-claim cap; never the earner,
-- a reviewer already on (or kept off) the submission, the same school (when the credential
-- says so), a reviewer flagged as the earner's colluding partner ('~pair:<earner>' in their
-- cached rules), or one trusted less than the task asks (a tie-break's minimum trust).
-- PostgreSQL confirms a reservation with the fenced claim statement (app/queue/sql/claim.sql).
-- ARGV: [1] prefix, [2] task id, [3] reviewer id, [4] max live claims
-- Returns {code, detail}:
--   { 1, 'cred:pool|trust|ka|lease'} reserved: out of the open set, held by the reviewer
--   { 2, 'cred:pool'}  the reviewer holds it already (a double tap)
--   { 0, holder}       not open: someone holds it ('' when Redis does not know who)
--   {-1, ''}           Redis does not know the task or its pool: PostgreSQL decides
--   {-2, 'cred:pool'}  not eligible by the cached rules: PostgreSQL decides
--   {-3, ''}           the reviewer holds the most live claims allowed
--   {-9, ''}           no cached eligibility for the reviewer: cache it, then call again
local p, task, reviewer = ARGV[1], ARGV[2], ARGV[3]
local meta = redis.call('HGET', p .. 'q:task', task)
if not meta then return {-1, ''} end
local pool, submission, earner, school, least =
  string.match(meta, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|?([^|]*)$')
local tag = p .. 'q:{' .. pool .. '}'
if redis.call('EXISTS', tag .. ':ready') == 0 then return {-1, ''} end
local holder = redis.call('HGET', tag .. ':holder', task)
if holder == reviewer then return {2, pool} end
if not redis.call('ZSCORE', tag .. ':open', task) then return {0, holder or ''} end
-- The entry lives under the global generation and the reviewer's own (app.queue.pools).
local elig = p .. 'q:elig:' .. (redis.call('GET', p .. 'q:elig:gen') or '0') .. '.'
  .. (redis.call('GET', p .. 'q:elig:gen:' .. reviewer) or '0') .. ':' .. reviewer
local rule = redis.call('HGET', elig, pool)
if not rule then
  if redis.call('EXISTS', elig) == 0 then return {-9, ''} end
  return {-2, pool}
end
if earner == reviewer then return {-2, pool} end
if redis.call('HEXISTS', elig, '~pair:' .. earner) == 1 then return {-2, pool} end
-- A tie-break's minimum trust is held against measured trust (app.access.MEASURED_TRUST).
if least ~= '' and tonumber(redis.call('HGET', elig, '~m:' .. pool) or '0') < tonumber(least) then
  return {-2, pool}
end
if redis.call('SISMEMBER', p .. 'q:on:' .. submission, reviewer) == 1 then return {-2, pool} end
if school ~= '' and redis.call('HGET', elig, '~school') == school then return {-2, pool} end
local held = p .. 'q:held:' .. reviewer
if redis.call('SCARD', held) >= tonumber(ARGV[4]) then return {-3, ''} end
local lease = tonumber(string.match(rule, '([^|]*)$'))
local now = redis.call('TIME')
redis.call('ZREM', tag .. ':open', task)
redis.call('ZADD', tag .. ':lease', tonumber(now[1]) + lease, task)
redis.call('HSET', tag .. ':holder', task, reviewer)
redis.call('SADD', held, task)
redis.call('SADD', p .. 'q:holders', reviewer)
return {1, pool .. '|' .. rule}
