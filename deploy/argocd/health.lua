-- Argo CD health check for sgprovisioner.io/SecurityGroupSet (kstatus conditions).
--   being deleted                          -> Progressing
--   no status yet, or conditions older than
--   metadata.generation                    -> Progressing
--   Stalled=True                           -> Degraded   (needs a human: invalid spec,
--                                                         Forbidden, group not owned, ...)
--   Ready=True, reason ObserveOnly         -> Suspended  (managementPolicy ObserveOnly:
--   Ready=False, reason ObserveOnly           the controller writes nothing to AWS)
--   Ready=True                             -> Healthy
--   otherwise (Reconciling=True, ...)      -> Progressing
-- Written for Argo CD's Lua (gopher-lua, Lua 5.1); tested by tests/e2e/argocd.rs with the
-- samples in deploy/argocd/testdata listed in health_test.yaml.
local hs = {}

local function condition(status, type_)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type_ then
      return c
    end
  end
  return nil
end

local function describe(c)
  if c == nil then
    return ""
  end
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    if text ~= "" then
      text = text .. ": "
    end
    text = text .. c.message
  end
  return text
end

local status = obj.status
local generation = obj.metadata and obj.metadata.generation

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: the controller removes the security groups and parameters"
  local reconciling = condition(status, "Reconciling")
  if reconciling ~= nil and reconciling.status == "True" then
    hs.message = "Deleting: " .. describe(reconciling)
  end
  return hs
end

if status == nil or status.conditions == nil or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to report status"
  return hs
end

-- The conditions carry the generation the controller last looked at; status.observedGeneration
-- the last one it fully applied (a Stalled generation is seen, not applied).
local ready = condition(status, "Ready")
local seen = ready and ready.observedGeneration or status.observedGeneration
if generation ~= nil and (seen == nil or seen < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. tostring(generation)
  return hs
end

local stalled = condition(status, "Stalled")
local reconciling = condition(status, "Reconciling")

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

if ready ~= nil and ready.reason == "ObserveOnly" then
  hs.status = "Suspended"
  hs.message = ready.message or "ObserveOnly"
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end

hs.status = "Progressing"
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = describe(reconciling)
elseif ready ~= nil then
  hs.message = describe(ready)
else
  hs.message = "Waiting for the Ready condition"
end
return hs
