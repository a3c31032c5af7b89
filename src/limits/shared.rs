//! Counting across replicas: one Lua script checks every scope of a call
//! and, only if all admit it, counts it in all of them — one atomic step in
//! Redis, so replicas cannot both take the last place in a window. The
//! keys of one call share their team as hash tag (one Redis Cluster slot).

use std::sync::LazyLock;

use redis::Script;

use super::config::Scope;
use super::window::{Count, Limit, Verdict};
use crate::redis_link::RedisLink;

/// KEYS: per scope, its window (a hash of `r:<second>` and `t:<second>`
/// counts) then its in-flight set (member → lease end). ARGV: now_ms,
/// member, tokens, lease_ms, then per scope rpm, tpm, concurrency (0 = none).
/// Returns {0, scope, limit (1 rpm, 2 tpm, 3 concurrency), retry_ms,
/// requests, tokens, in_flight} or {1, then per scope requests, tokens,
/// in_flight, reset_requests_ms, reset_tokens_ms}.
const ADMIT_LUA: &str = r#"
local now = tonumber(ARGV[1])
local sec = math.floor(now / 1000)
local tokens = tonumber(ARGV[3])
local n = #KEYS / 2
local function reset_after(list, need)
  table.sort(list, function(a, b) return a[1] < b[1] end)
  local freed = 0
  for _, e in ipairs(list) do
    freed = freed + e[2]
    if freed >= need and freed > 0 then return (e[1] + 60) * 1000 - now end
  end
  return 60000
end
local seen = {}
for i = 1, n do
  local win, fl = KEYS[2*i-1], KEYS[2*i]
  local rpm, tpm, conc = tonumber(ARGV[3*i+2]), tonumber(ARGV[3*i+3]), tonumber(ARGV[3*i+4])
  local r, t, rs, ts = 0, 0, {}, {}
  local all = redis.call('HGETALL', win)
  for j = 1, #all, 2 do
    local f = all[j]
    local s = tonumber(string.sub(f, 3))
    local v = tonumber(all[j+1])
    if s <= sec - 60 then
      redis.call('HDEL', win, f)
    elseif string.sub(f, 1, 1) == 'r' then
      r = r + v
      rs[#rs+1] = {s, v}
    else
      t = t + v
      ts[#ts+1] = {s, math.max(v, 0)}
    end
  end
  if t < 0 then t = 0 end
  local c = 0
  if conc > 0 then
    redis.call('ZREMRANGEBYSCORE', fl, '-inf', now)
    c = redis.call('ZCARD', fl)
  end
  if rpm > 0 and r + 1 > rpm then return {0, i, 1, reset_after(rs, r + 1 - rpm), r, t, c} end
  if tpm > 0 and t + tokens > tpm then
    local retry = 60000
    if tokens <= tpm then retry = reset_after(ts, t + tokens - tpm) end
    return {0, i, 2, retry, r, t, c}
  end
  if conc > 0 and c + 1 > conc then return {0, i, 3, 1000, r, t, c} end
  seen[i] = {r, t, c, rs, ts}
end
local out = {1}
for i = 1, n do
  local win, fl = KEYS[2*i-1], KEYS[2*i]
  local conc = tonumber(ARGV[3*i+4])
  redis.call('HINCRBY', win, 'r:' .. sec, 1)
  if tokens > 0 then redis.call('HINCRBY', win, 't:' .. sec, tokens) end
  redis.call('PEXPIRE', win, 61000)
  local k = seen[i]
  if conc > 0 then
    redis.call('ZADD', fl, now + tonumber(ARGV[4]), ARGV[2])
    redis.call('PEXPIRE', fl, tonumber(ARGV[4]) + 1000)
    k[3] = k[3] + 1
  end
  table.insert(k[4], {sec, 1})
  table.insert(k[5], {sec, tokens})
  out[#out+1] = k[1] + 1
  out[#out+1] = k[2] + tokens
  out[#out+1] = k[3]
  out[#out+1] = reset_after(k[4], 1)
  out[#out+1] = reset_after(k[5], 1)
end
return out
"#;

/// KEYS as above; ARGV: second, token delta, member. Settles the tokens
/// held in that second and frees the place in flight.
const FINISH_LUA: &str = r#"
for i = 1, #KEYS / 2 do
  if tonumber(ARGV[2]) ~= 0 then redis.call('HINCRBY', KEYS[2*i-1], 't:' .. ARGV[1], ARGV[2]) end
  redis.call('ZREM', KEYS[2*i], ARGV[3])
end
return 1
"#;

/// Hashed once (the script is sent by its SHA, and loaded on a miss).
static ADMIT: LazyLock<Script> = LazyLock::new(|| Script::new(ADMIT_LUA));
static FINISH: LazyLock<Script> = LazyLock::new(|| Script::new(FINISH_LUA));

fn keys(link: &RedisLink, team: &str, scopes: &[Scope]) -> Vec<String> {
    scopes
        .iter()
        .flat_map(|s| {
            [
                link.key(&format!("rl:{{{team}}}:{}:w", s.id)),
                link.key(&format!("rl:{{{team}}}:{}:f", s.id)),
            ]
        })
        .collect()
}

/// `None` when Redis did not answer (the caller counts locally instead).
pub async fn admit(
    link: &RedisLink,
    team: &str,
    scopes: &[Scope],
    member: i64,
    tokens: u64,
    lease_ms: i64,
    now_ms: i64,
) -> Option<Verdict> {
    let mut args = vec![now_ms, member, tokens as i64, lease_ms];
    for s in scopes {
        args.extend([s.rpm as i64, s.tpm as i64, s.concurrency as i64]);
    }
    let out: Vec<i64> = link.eval(&ADMIT, &keys(link, team, scopes), &args).await?;
    let at = |i: usize| out.get(i).copied().unwrap_or(0);
    let u = |i: usize| at(i).max(0) as u64;
    if at(0) == 0 {
        let limit = match at(2) {
            1 => Limit::Requests,
            2 => Limit::Tokens,
            _ => Limit::Concurrency,
        };
        return Some(Verdict::Limited {
            scope: (at(1).max(1) - 1) as usize,
            limit,
            retry_ms: at(3),
            count: Count {
                requests: u(4),
                tokens: u(5),
                in_flight: u(6),
                reset_requests_ms: at(3),
                reset_tokens_ms: at(3),
            },
        });
    }
    let counts = (0..scopes.len())
        .map(|i| {
            let b = 1 + i * 5;
            Count {
                requests: u(b),
                tokens: u(b + 1),
                in_flight: u(b + 2),
                reset_requests_ms: at(b + 3),
                reset_tokens_ms: at(b + 4),
            }
        })
        .collect();
    Some(Verdict::Admitted(counts))
}

/// Whether Redis answered.
pub async fn finish(
    link: &RedisLink,
    team: &str,
    scopes: &[Scope],
    sec: i64,
    token_delta: i64,
    member: i64,
) -> bool {
    let done: Option<i64> = link
        .eval(
            &FINISH,
            &keys(link, team, scopes),
            &[sec, token_delta, member],
        )
        .await;
    done.is_some()
}
