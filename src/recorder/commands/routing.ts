/**
 * Routing commands: where a completed (or failed) node state sent its token, one edge or
 * several at once.
 */
import type * as t from 'io-ts';
import { RoutingMode } from '../../events/catalogue';
import { arrayOf, Id, Json, JsonValue, struct } from '../../events/codecs';
import { ledgerError } from '../../errors';
import type { RunState } from '../../projections/state';
import { command, DecideContext, Decision, ev, EventDraft, one, PayloadBody, withBodies } from './command';
import { invalid, requireRunning, requireState, transition } from './guards';
import { payloadOf } from './hashing';

const RouteInput = struct('RouteInput', { edgeId: Id, mode: RoutingMode });

export const RecordRoutingEventInput = struct('RecordRoutingEventInput', { stateId: Id, edgeId: Id, mode: RoutingMode }, { reason: JsonValue });

export const RecordRoutingEventsInput = struct(
  'RecordRoutingEventsInput',
  { stateId: Id, routes: arrayOf(RouteInput, { nonEmpty: true }) },
  { reason: JsonValue },
);

export type RecordRoutingEventInput = t.TypeOf<typeof RecordRoutingEventInput>;
export type RecordRoutingEventsInput = t.TypeOf<typeof RecordRoutingEventsInput>;

function routingDecision(
  state: RunState,
  i: { stateId: string; routes: ReadonlyArray<{ edgeId: string; mode: 'move' | 'copy' | 'divert' }>; reason?: Json },
  ctx: DecideContext,
  singleField: string | null,
): { event: EventDraft; routingGroupId: string; eventIds: string[]; bodies: PayloadBody[] } {
  requireRunning(state);
  const ns = requireState(state, i.stateId, 'stateId');
  if (ns.status === 'open' || ns.status === 'pending') {
    transition(
      `stateId: node state ${i.stateId} is ${ns.status}; routing is recorded after the state completes (or fails), so a decision that later fails leaves no ghost route`,
      { path: 'stateId', status: ns.status },
    );
  }
  const seen = new Set<string>();
  const routes = i.routes.map((r, ordinal) => {
    const field = singleField ?? `routes[${ordinal}].edgeId`;
    const edge = state.edges.get(r.edgeId);
    if (edge === undefined) throw ledgerError('EDGE_NOT_FOUND', `${field}: edge ${r.edgeId} is not registered in run ${state.runId}`, { path: field });
    if (edge.fromNodeId !== ns.nodeId) {
      throw ledgerError('LINEAGE_SCOPE_VIOLATION', `${field}: edge ${r.edgeId} leaves node ${edge.fromNodeId}, not the state's node ${ns.nodeId}`, {
        path: field,
      });
    }
    if (seen.has(r.edgeId)) invalid(field, `edge ${r.edgeId} is listed twice`);
    seen.add(r.edgeId);
    return { eventId: ctx.newId(), edgeId: r.edgeId, mode: r.mode, ordinal };
  });
  const routingGroupId = ctx.newId();
  const bodies: PayloadBody[] = [];
  const reason = i.reason === undefined ? null : payloadOf(i.reason, 'reason', ctx, bodies);
  return {
    event: ev('RoutingDecided', {
      stateId: i.stateId,
      routingGroupId,
      routes,
      reasonHash: reason?.hash ?? null,
      reasonRef: reason?.ref ?? null,
    }),
    routingGroupId,
    eventIds: routes.map((r) => r.eventId),
    bodies,
  };
}

function decideRecordRoutingEvent(state: RunState, i: RecordRoutingEventInput, ctx: DecideContext): Decision<{ eventId: string; routingGroupId: string }> {
  const d = routingDecision(state, { stateId: i.stateId, routes: [{ edgeId: i.edgeId, mode: i.mode }], reason: i.reason }, ctx, 'edgeId');
  return withBodies(d.bodies, one(d.event, { eventId: d.eventIds[0]!, routingGroupId: d.routingGroupId }));
}

function decideRecordRoutingEvents(state: RunState, i: RecordRoutingEventsInput, ctx: DecideContext): Decision<{ routingGroupId: string; eventIds: string[] }> {
  const d = routingDecision(state, i, ctx, null);
  return withBodies(d.bodies, one(d.event, { routingGroupId: d.routingGroupId, eventIds: d.eventIds }));
}

export const routingCommands = {
  recordRoutingEvent: command(RecordRoutingEventInput, decideRecordRoutingEvent),
  recordRoutingEvents: command(RecordRoutingEventsInput, decideRecordRoutingEvents),
};
