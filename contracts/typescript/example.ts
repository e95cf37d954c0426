// A typed client's view of the contracts: build a command, send it (here: a canned answer),
// narrow the response. Compiled with `tsc --strict` in CI against the generated types.
import type {
  EmergencyLockdownCommand,
  Envelope,
  GrantRoleCommand,
  PlaneEvent,
  QueryResults,
  Request,
  Response,
} from "./ro-contracts";

const lockdown: EmergencyLockdownCommand = {
  type: "EMERGENCY_LOCKDOWN",
  operator_id: "op-7",
  reason: "stale market data",
};
const grant: GrantRoleCommand = { type: "GRANT_ROLE", principal: "ana", role: "analyst" };
const batch: Request[] = [lockdown, grant, { type: "HEARTBEAT" }, { type: "TICK" }];

function describe(response: Response): string {
  if (response.ok === false) {
    return `refused: ${response.error.code}: ${response.error.message}`;
  }
  if ("confirmation_required" in response) {
    return `send it again with confirmation_token ${response.confirmation_token}`;
  }
  const events: Envelope[] = response.events;
  return `accepted at seq ${response.seq}: ${events.map((e) => describeEvent(e.event)).join(", ")}`;
}

function describeEvent(event: PlaneEvent): string {
  switch (event.domain) {
    case "admin":
      return event.event.type === "LockdownRaised" ? "lockdown raised" : event.event.type;
    case "policy":
      return event.event.type === "RoleGranted" ? `role ${event.event.role} granted` : event.event.type;
    default:
      return event.event.type;
  }
}

// A query's result, typed by its query: the HEARTBEAT answer names the lockdown.
function lockdownOf(result: QueryResults["HEARTBEAT"]): boolean {
  return result.lockdown;
}

const answer: Response = JSON.parse(
  '{"ok":false,"error":{"code":"LOCKDOWN_ACTIVE","message":"lockdown is active","details":{}}}',
);
export const summary: string[] = [describe(answer), String(batch.length), String(lockdownOf)];
