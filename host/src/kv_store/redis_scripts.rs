//! The Lua scripts that write a shared namespace. Redis runs a script as
//! one step, so a write, the namespace's key index and its byte count
//! (`key_layout.rs`) change together or not at all, and two hosts writing
//! at once cannot both pass the quota: the count is checked and updated in
//! the step that writes. The quota's rules are those of `quota.rs`: an
//! entry counts its key's and value's bytes; a write that would take the
//! namespace past its quota is refused unless it does not make it larger.
//!
//! Every script takes KEYS = [value, index, used] and answers a triple
//! `{status, detail, used}` (used: the namespace's byte count after it),
//! so that what the plugin did wrong (a refused quota, a value that is no
//! integer) never looks like a failed Redis.
//!
//! Lua numbers are doubles: byte counts are exact far past any quota, and
//! the integers of `increment` are added by Redis's own INCRBY, in 64 bits.

use std::sync::LazyLock;

use redis::Script;

/// The accounting shared by the writing scripts: `after(keylen, old, new)`
/// is the namespace's byte count after replacing a value of `old` bytes
/// (false: none) by one of `new` bytes, or nil when ARGV's last argument,
/// the quota, refuses it (with the count before, either way).
const ACCOUNTING: &str = r"
local function used_now()
  return tonumber(redis.call('GET', KEYS[3]) or '0')
end
local function after(keylen, old, new)
  local used = used_now()
  local freed = 0
  if old then freed = math.min(keylen + old, used) end
  local total = used - freed + keylen + new
  if total > tonumber(ARGV[#ARGV]) and total > used then
    return nil, used
  end
  return total, used
end
local function stored(key, total)
  redis.call('ZADD', KEYS[2], 0, key)
  redis.call('SET', KEYS[3], string.format('%d', total))
end
local function old_len()
  if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('STRLEN', KEYS[1]) end
  return false
end
";

fn script(body: &str) -> Script {
    Script::new(&format!("{ACCOUNTING}{body}"))
}

/// What a script did: the first of its answer's three values, as the
/// scripts below write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// The quota refused the write (0).
    OverQuota,
    /// Written (1); for `increment` the detail is the new value.
    Done,
    /// A compare-and-swap found another value (2).
    NotSwapped,
    /// An increment of a value that is no integer, or past s64 (3); the
    /// detail says which.
    NotAnInteger,
    /// A delete of a key that has no value (4).
    Absent,
}

impl Status {
    pub(super) fn from_code(code: i64) -> Option<Status> {
        Some(match code {
            0 => Status::OverQuota,
            1 => Status::Done,
            2 => Status::NotSwapped,
            3 => Status::NotAnInteger,
            4 => Status::Absent,
            _ => return None,
        })
    }
}

/// ARGV = [key, value, quota].
pub(super) static SET: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local keylen = string.len(ARGV[1])
local total, used = after(keylen, old_len(), string.len(ARGV[2]))
if not total then return {0, '', string.format('%d', used)} end
redis.call('SET', KEYS[1], ARGV[2])
stored(ARGV[1], total)
return {1, '', string.format('%d', total)}
",
    )
});

/// ARGV = [key].
pub(super) static DELETE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local old = old_len()
if not old then return {4, '', string.format('%d', used_now())} end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local total = string.format('%d', math.max(used_now() - string.len(ARGV[1]) - old, 0))
redis.call('SET', KEYS[3], total)
return {1, '', total}
",
    )
});

/// ARGV = [key, delta, quota]. The value's text must be a decimal integer
/// in the form `integer_text.rs` checks (no `+`, no leading zero, no `-0`),
/// tested here too so that both backends take exactly the same values;
/// INCRBY then adds in 64 bits and refuses an overflow.
pub(super) static INCREMENT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local old = redis.call('GET', KEYS[1])
if old and not (old == '0' or string.match(old, '^%-?[1-9]%d*$')) then
  return {3, 'the value is not a decimal integer', ''}
end
local result = redis.pcall('INCRBY', KEYS[1], ARGV[2])
if type(result) == 'table' and result.err then return {3, result.err, ''} end
local value = redis.call('GET', KEYS[1])
local keylen = string.len(ARGV[1])
local old_bytes = false
if old then old_bytes = string.len(old) end
local total, used = after(keylen, old_bytes, string.len(value))
if not total then
  if old then redis.call('SET', KEYS[1], old) else redis.call('DEL', KEYS[1]) end
  return {0, '', string.format('%d', used)}
end
stored(ARGV[1], total)
return {1, value, string.format('%d', total)}
",
    )
});

/// ARGV = [key, '1' if an old value is expected else '0', old value, new
/// value, quota].
pub(super) static COMPARE_AND_SWAP: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local current = redis.call('GET', KEYS[1])
if ARGV[2] == '0' then
  if current then return {2, '', ''} end
elseif (not current) or current ~= ARGV[3] then
  return {2, '', ''}
end
local keylen = string.len(ARGV[1])
local old = false
if current then old = string.len(current) end
local total, used = after(keylen, old, string.len(ARGV[4]))
if not total then return {0, '', string.format('%d', used)} end
redis.call('SET', KEYS[1], ARGV[4])
stored(ARGV[1], total)
return {1, '', string.format('%d', total)}
",
    )
});
