#!lua name=handoff_peer
-- The Redis+Lua peer of bench/run.sh: per event, about the work handoffd does for the example
-- rules (rules/examples/default.yaml), as one Redis 7 function called once per event:
--
--   FCALL handoff_event 3 dedupe:MID lead:LEAD routed  MID LEAD TYPE NAME TS TITLE EMAIL EMPLOYEES
--
-- 1. Dedupe on messageId: SET NX with a 24 h expiry; a repeat returns 0 and changes nothing.
-- 2. The lead's engagement score decays continuously with a 14-day half-life, exactly, at the
--    event's time (events may arrive out of order: an older event's points are decayed to the
--    lead's newest time instead), plus the points the example rules award for the page path or
--    track event name; Demo Requested and Trial Started count once per lead.
-- 3. An identify recomputes the fit score from the traits (senior title, company size, work
--    email), as the example's profile rules do.
-- 4. Threshold: engagement >= 80 and fit >= 25 (stage sql) records the lead as qualified, once,
--    and appends a routed record (XADD) naming the lead and the triggering messageId.
--
-- Less than handoffd does, so the comparison favours the peer: no caps per window, no stage
-- machine beyond the one threshold, no rep selection, no per-lead history, no outbox for
-- subscribers; the fit rules use plain substring checks instead of regular expressions.

-- ln(2) / 14 days in seconds (a literal: a function library may not call math at load time).
local LAMBDA = 5.730383437168859e-07

local PAGE_POINTS = {{"/pricing", 10}, {"/docs", 3}, {"/blog", 1}, {"/careers", -5}}
local TRACK_POINTS = {
  ["Webinar Attended"] = 15,
  ["Trial Started"] = 40,
  ["Demo Requested"] = 50,
  ["Email Link Clicked"] = 2,
  ["User Invited"] = 10,
  ["Unsubscribed"] = -40,
}
local ONCE = {["Trial Started"] = "once_trial", ["Demo Requested"] = "once_demo"}
local FREE_MAIL = {["gmail.com"] = true, ["yahoo.com"] = true, ["hotmail.com"] = true,
                   ["outlook.com"] = true, ["icloud.com"] = true}

local function fit_of(title, email, employees)
  local fit = 0
  local t = " " .. string.lower(title) .. " "
  if t:find("[^%a]vp[^%a]") or t:find("vice president", 1, true) or t:find("head", 1, true) or
      t:find("chief", 1, true) or t:find("director", 1, true) then
    fit = fit + 20
  elseif t:find("manager", 1, true) then
    fit = fit + 10
  end
  local n = tonumber(employees) or 0
  if n >= 200 then fit = fit + 15 end
  if n >= 1000 then fit = fit + 10 end
  local domain = string.match(email, "@(.+)$")
  if domain ~= nil and not FREE_MAIL[string.lower(domain)] then fit = fit + 10 end
  return fit
end

local function handoff_event(keys, args)
  local mid, lead, kind, name = args[1], args[2], args[3], args[4]
  local ts = tonumber(args[5])
  if not redis.call("SET", keys[1], "1", "NX", "EX", 86400) then
    return 0
  end
  local st = redis.call("HMGET", keys[2], "eng", "at", "fit", "qualified", "once_trial",
                        "once_demo")
  local eng = tonumber(st[1]) or 0
  local at = tonumber(st[2]) or ts
  local fit = tonumber(st[3]) or 0

  local points = 0
  if kind == "page" then
    for _, p in ipairs(PAGE_POINTS) do
      if string.sub(name, 1, #p[1]) == p[1] then
        points = p[2]
        break
      end
    end
  elseif kind == "track" then
    points = TRACK_POINTS[name] or 0
    local once = ONCE[name]
    if once ~= nil then
      if st[once == "once_trial" and 5 or 6] then
        points = 0
      else
        redis.call("HSET", keys[2], once, "1")
      end
    end
  elseif kind == "identify" then
    fit = fit_of(args[6], args[7], args[8])
  end

  if ts >= at then
    eng = eng * math.exp(-LAMBDA * (ts - at)) + points
    at = ts
  else
    eng = eng + points * math.exp(-LAMBDA * (at - ts))
  end
  redis.call("HSET", keys[2], "eng", tostring(eng), "at", tostring(at), "fit", tostring(fit))
  if not st[4] and eng >= 80 and fit >= 25 then
    redis.call("HSET", keys[2], "qualified", "1")
    redis.call("XADD", keys[3], "*", "lead", lead, "trigger", mid)
  end
  return 1
end

redis.register_function("handoff_event", handoff_event)
