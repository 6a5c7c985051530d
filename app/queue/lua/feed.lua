-- feed: the first open tasks a reviewer may claim, across their pools, best first (the
-- pools' priority), as stored cards; and the claims they hold. Read-only. Skips what
-- claim_next.lua skips.
-- ARGV: [1] prefix, [2] reviewer id, [3] how many cards
-- Returns {1, held, card, card, ...} where held lists the claims held, one per line, as
-- 'deadline<TAB>card' (cards are JSON, which never holds a raw tab or newline);
-- {-1} a pool was never built (PostgreSQL answers); {-9} no cached eligibility.
local p, reviewer, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
-- The entry lives under the global generation and the reviewer's own (app.queue.pools).
local elig = p .. 'q:elig:' .. (redis.call('GET', p .. 'q:elig:gen') or '0') .. '.'
  .. (redis.call('GET', p .. 'q:elig:gen:' .. reviewer) or '0') .. ':' .. reviewer
local rules = redis.call('HGETALL', elig)
if #rules == 0 then return {-9} end
local school, pools, trusts = nil, {}, {}
for i = 1, #rules, 2 do
  if rules[i] == '~school' then school = rules[i + 1]
  elseif string.sub(rules[i], 1, 1) ~= '~' then
    pools[#pools + 1] = rules[i]
    trusts[rules[i]] = tonumber(string.match(rules[i + 1], '^([^|]*)'))
  end
end
for _, pool in ipairs(pools) do
  if redis.call('EXISTS', p .. 'q:{' .. pool .. '}:ready') == 0 then return {-1} end
end
local held = {}
for _, task in ipairs(redis.call('SMEMBERS', p .. 'q:held:' .. reviewer)) do
  local meta = redis.call('HGET', p .. 'q:task', task)
  if meta then
    local pool = string.match(meta, '^([^|]*)')
    local deadline = redis.call('ZSCORE', p .. 'q:{' .. pool .. '}:lease', task)
    local card = redis.call('HGET', p .. 'q:card', task)
    if deadline and card then held[#held + 1] = deadline .. '\t' .. card end
  end
end
local result = {1, table.concat(held, '\n')}
local window = limit + 8
while true do
  local candidates, more = {}, false
  for _, pool in ipairs(pools) do
    local found = redis.call('ZRANGE', p .. 'q:{' .. pool .. '}:open', 0, window - 1, 'WITHSCORES')
    if #found >= 2 * window then more = true end
    for i = 1, #found, 2 do
      candidates[#candidates + 1] = {found[i], tonumber(found[i + 1]), trusts[pool], pool}
    end
  end
  table.sort(candidates, function(a, b)
    if a[2] == b[2] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local picked = {}
  for _, c in ipairs(candidates) do
    local meta = redis.call('HGET', p .. 'q:task', c[1])
    if meta then
      local _, submission, earner, exschool, least =
        string.match(meta, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|?([^|]*)$')
      if earner ~= reviewer
         and redis.call('SISMEMBER', p .. 'q:on:' .. submission, reviewer) == 0
         and not (exschool ~= '' and exschool == school)
         and redis.call('HEXISTS', elig, '~pair:' .. earner) == 0
         and (least == ''
              or tonumber(redis.call('HGET', elig, '~m:' .. c[4]) or '0') >= tonumber(least)) then
        picked[#picked + 1] = c[1]
        if #picked >= limit then break end
      end
    end
  end
  if #picked >= limit or not more or window >= 65536 then
    if #picked > 0 then
      local cards = redis.call('HMGET', p .. 'q:card', unpack(picked))
      for _, card in ipairs(cards) do
        if card then result[#result + 1] = card end
      end
    end
    return result
  end
  window = window * 4
end
