-- claim_next: take the best open task for a reviewer across every pool they may review, in
-- one atomic step, so racing reviewers each get a different task.
-- Order: the pool's priority (oldest first, escalations a day ahead), minus the trust lead of
-- the credential (trust 100: 12 h ahead). Skips what the reviewer may not take (their own
-- packet, a packet they are already on or kept off, the same school when excluded, a flagged
-- partner's packet, a tie-break asking more trust than theirs) and the tasks in
-- ARGV[6..] (refused by PostgreSQL a moment ago). Guards the live-claim cap like claim.lua.
-- ARGV: [1] prefix, [2] reviewer id, [3] max live claims, [4] window per pool,
--       [5] trust lead seconds at trust 100, [6..] task ids to skip
-- Returns {1, task, 'cred:pool|trust|ka|lease'} reserved; {0, ''} no open work for them;
-- {-1, ''} a pool was never built (Redis lost it: PostgreSQL decides); {-3, ''} at the cap;
-- {-9, ''} no cached eligibility.
local p, reviewer = ARGV[1], ARGV[2]
-- The entry lives under the global generation and the reviewer's own (app.queue.pools).
local elig = p .. 'q:elig:' .. (redis.call('GET', p .. 'q:elig:gen') or '0') .. '.'
  .. (redis.call('GET', p .. 'q:elig:gen:' .. reviewer) or '0') .. ':' .. reviewer
local rules = redis.call('HGETALL', elig)
if #rules == 0 then return {-9, ''} end
local held = p .. 'q:held:' .. reviewer
if redis.call('SCARD', held) >= tonumber(ARGV[3]) then return {-3, ''} end
local skip, school, pools = {}, nil, {}
for i = 6, #ARGV do skip[ARGV[i]] = true end
for i = 1, #rules, 2 do
  if rules[i] == '~school' then school = rules[i + 1]
  elseif string.sub(rules[i], 1, 1) ~= '~' then pools[#pools + 1] = {rules[i], rules[i + 1]} end
end
for _, pool in ipairs(pools) do
  if redis.call('EXISTS', p .. 'q:{' .. pool[1] .. '}:ready') == 0 then return {-1, ''} end
end
local lead = tonumber(ARGV[5])
local window = tonumber(ARGV[4])
while true do
  local candidates, more = {}, false
  for _, pool in ipairs(pools) do
    local trust = tonumber(string.match(pool[2], '^([^|]*)'))
    local found = redis.call('ZRANGE', p .. 'q:{' .. pool[1] .. '}:open', 0, window - 1, 'WITHSCORES')
    if #found >= 2 * window then more = true end
    for i = 1, #found, 2 do
      candidates[#candidates + 1] =
        {found[i], tonumber(found[i + 1]) - trust / 100 * lead, pool, trust}
    end
  end
  table.sort(candidates, function(a, b)
    if a[2] == b[2] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  for _, c in ipairs(candidates) do
    local task = c[1]
    if not skip[task] then
      local meta = redis.call('HGET', p .. 'q:task', task)
      if meta then
        local _, submission, earner, exschool, least =
          string.match(meta, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|?([^|]*)$')
        if earner ~= reviewer
           and redis.call('SISMEMBER', p .. 'q:on:' .. submission, reviewer) == 0
           and not (exschool ~= '' and exschool == school)
           and redis.call('HEXISTS', elig, '~pair:' .. earner) == 0
           and (least == ''
                or tonumber(redis.call('HGET', elig, '~m:' .. c[3][1]) or '0') >= tonumber(least)) then
          local tag = p .. 'q:{' .. c[3][1] .. '}'
          local lease = tonumber(string.match(c[3][2], '([^|]*)$'))
          local now = redis.call('TIME')
          redis.call('ZREM', tag .. ':open', task)
          redis.call('ZADD', tag .. ':lease', tonumber(now[1]) + lease, task)
          redis.call('HSET', tag .. ':holder', task, reviewer)
          redis.call('SADD', held, task)
          redis.call('SADD', p .. 'q:holders', reviewer)
          return {1, task, c[3][1] .. '|' .. c[3][2]}
        end
      end
    end
  end
  if not more or window >= 4096 then return {0, ''} end
  window = window * 4
end
