/**
 * The fold: evolve(state, event) → state. Deterministic and free of I/O; the
 * state object is owned by the fold and updated in place (a run of 100,000 rows
 * holds millions of entities, so copying per event is not an option). Replay,
 * time travel, the recorder's write model and the exporter all use this one fold.
 *
 * The fold never throws on a referential problem (a fact about a token that does
 * not exist, a second terminal outcome): such events can only come from writers
 * that bypass the recorder. It records an Anomaly instead, so that `check` can
 * report the run and the exporter can refuse it, rather than crash on load.
 *
 * EVENT_FOLDS holds, for every event type of the catalogue, how it changes the
 * state (`evolve`) and, beside it, its inverse (`inverse`, see inverse.ts): how
 * import rebuilds events of the type from a run's exported entities. The table
 * is a mapped type over the event types, so an event type added to the catalogue
 * without both does not compile.
 */
import { stableHash } from '../canonical/hash';
import { canonicalize } from '../canonical/jcs';
import { TERMINAL_RUN_STATUSES, type EventType } from '../events/catalogue';
import type { JsonObject } from '../events/codecs';
import type { EventEnvelope, LedgerEvent } from '../events/envelope';
import { GROUP_TABLE, isTerminalOutcome } from '../events/outcomes';
import type { NodeState, RoutingEvent, Token, TokenOutcome } from './entities';
import type { Inverse, Inverted, RunRecords } from './inverse';
import { edgeLabelKey, Group, GroupKind, pushTo, RunState } from './state';

type Anomalies = (message: string) => void;

/** One event type's fold and its inverse. */
export interface EventFold<T extends EventType> {
  /** Applies an event of this type to the state (in place); what cannot be applied as recorded is reported with `anomaly`. */
  readonly evolve: (state: RunState, event: EventEnvelope<T>, anomaly: Anomalies) => void;
  /** How import rebuilds the events of this type from a run's records. */
  readonly inverse: Inverse<T>;
}

/** Every event type's fold and inverse: a missing event type is a compile error. */
export type EventFolds = { readonly [T in EventType]: EventFold<T> };

export const EVENT_FOLDS: EventFolds = {
  RunStarted: {
    evolve(state, event, anomaly) {
      const d = event.data;
      if (state.run !== null) {
        anomaly('a second RunStarted in the same run');
        return;
      }
      state.run = {
        runId: event.runId,
        status: 'running',
        startedAt: event.recordedAt,
        completedAt: null,
        canonicalVersion: d.canonicalVersion,
        configHash: d.configHash,
        settings: d.config,
        reproducibilityGrade: d.reproducibilityGrade,
        sourceSchemaJson: d.sourceSchemaJson,
        sourceFieldResolutionJson: null,
        schemaContractJson: d.schemaContractJson,
        schemaContractHash: d.schemaContractHash,
        exportStatus: null,
        exportError: null,
        exportedAt: null,
        exportFormat: null,
        exportSink: null,
      };
    },
    inverse: {
      // the run record holds the final contract and grade: RunStarted writes them (see RunContractLocked, PayloadsPurged)
      seat: { opening: 0 },
      *invert(records): Generator<Inverted<'RunStarted'>> {
        const run = records.run;
        yield {
          data: {
            config: run.settings,
            configHash: run.configHash,
            canonicalVersion: run.canonicalVersion,
            reproducibilityGrade: run.reproducibilityGrade,
            sourceSchemaJson: run.sourceSchemaJson,
            schemaContractJson: run.schemaContractJson,
            schemaContractHash: run.schemaContractHash,
          },
          at: run.startedAt,
          creates: [0],
        };
      },
    },
  },

  RunStatusChanged: {
    evolve(state, event, anomaly) {
      if (state.run === null) return noRun(event, anomaly);
      state.run.status = event.data.status;
    },
    inverse: {
      // after RunCompleted: a run that ended interrupted and was resumed
      seat: { closing: 1 },
      *invert(records): Generator<Inverted<'RunStatusChanged'>> {
        const run = records.run;
        if (run.completedAt !== null) {
          if (!isTerminalRunStatus(run.status)) yield { data: { status: run.status, reason: null }, at: run.completedAt, changes: 0, creates: [] };
        } else if (run.status !== 'running') {
          yield { data: { status: run.status, reason: null }, at: null, changes: 0, creates: [] };
        }
      },
    },
  },

  RunCompleted: {
    evolve(state, event, anomaly) {
      if (state.run === null) return noRun(event, anomaly);
      state.run.status = event.data.status;
      state.run.completedAt = event.recordedAt;
      if (event.data.reproducibilityGrade !== null) state.run.reproducibilityGrade = event.data.reproducibilityGrade;
    },
    inverse: {
      seat: { closing: 0 },
      *invert(records): Generator<Inverted<'RunCompleted'>> {
        const run = records.run;
        if (run.completedAt === null) return;
        // a run completed with a status that is not terminal was resumed: it ended interrupted (RunStatusChanged follows)
        const status = isTerminalRunStatus(run.status) ? run.status : 'interrupted';
        yield { data: { status, reproducibilityGrade: null }, at: run.completedAt, changes: 0, creates: [] };
      },
    },
  },

  ExportStatusChanged: {
    evolve(state, event, anomaly) {
      if (state.run === null) return noRun(event, anomaly);
      const d = event.data;
      state.run.exportStatus = d.status;
      state.run.exportError = d.error;
      if (d.format !== null) state.run.exportFormat = d.format;
      if (d.sink !== null) state.run.exportSink = d.sink;
      if (d.status === 'completed') state.run.exportedAt = event.recordedAt;
    },
    inverse: {
      seat: { closing: 2 },
      *invert(records): Generator<Inverted<'ExportStatusChanged'>> {
        const run = records.run;
        if (run.exportStatus === null) return;
        if (run.exportStatus === 'completed') {
          yield { data: { status: 'completed', error: run.exportError, format: run.exportFormat, sink: run.exportSink }, at: run.exportedAt, changes: 0, creates: [] };
          return;
        }
        // an export that completed once, then went pending or failed: the completion first (it set exported_at)
        if (run.exportedAt !== null) {
          yield { data: { status: 'completed', error: null, format: run.exportFormat, sink: run.exportSink }, at: run.exportedAt, changes: 0, creates: [] };
        }
        yield {
          data: {
            status: run.exportStatus,
            error: run.exportError,
            format: run.exportedAt !== null ? null : run.exportFormat,
            sink: run.exportedAt !== null ? null : run.exportSink,
          },
          at: null,
          changes: 0,
          creates: [],
        };
      },
    },
  },

  SourceFieldResolutionRecorded: {
    evolve(state, event, anomaly) {
      if (state.run === null) return noRun(event, anomaly);
      state.run.sourceFieldResolutionJson = {
        resolution_mapping: event.data.resolutionMapping,
        normalization_version: event.data.normalizationVersion,
      };
    },
    inverse: {
      seat: { opening: 1 },
      *invert(records): Generator<Inverted<'SourceFieldResolutionRecorded'>> {
        const sfr = records.run.sourceFieldResolutionJson as Record<string, unknown> | null;
        if (sfr === null) return;
        const keys = typeof sfr === 'object' && !Array.isArray(sfr) ? Object.keys(sfr).sort().join(',') : '';
        if (keys !== 'normalization_version,resolution_mapping') {
          records.fail(`${records.describe(0)}: source_field_resolution_json is not what SourceFieldResolutionRecorded writes`, { index: 0 });
        }
        // (the values are checked by the event's codec when the event is built)
        yield { data: { resolutionMapping: sfr.resolution_mapping as JsonObject, normalizationVersion: sfr.normalization_version as string | null }, at: null, changes: 0, creates: [] };
      },
    },
  },

  RunContractLocked: {
    evolve(state, event, anomaly) {
      if (state.run === null) return noRun(event, anomaly);
      state.run.schemaContractJson = event.data.schemaContractJson;
      state.run.schemaContractHash = event.data.schemaContractHash;
    },
    inverse: { carriedBy: 'RunStarted', note: "the run record holds the locked contract (schema_contract_json, _hash), which RunStarted's inverse writes" },
  },

  NodeRegistered: {
    evolve(state, event, anomaly) {
      const d = event.data;
      addOnce(state.nodes, d.nodeId, { ...d, registeredAt: event.recordedAt }, anomaly, `node ${d.nodeId} registered`);
    },
    inverse: {
      // with the node's last output contract (see NodeOutputContractUpdated)
      seat: 'body',
      *invert(records): Generator<Inverted<'NodeRegistered'>> {
        for (const i of records.of('node')) {
          const { registeredAt, ...data } = records.get(i, 'node');
          yield { data, at: registeredAt, creates: [i] };
        }
      },
    },
  },

  NodeOutputContractUpdated: {
    evolve(state, event, anomaly) {
      const node = state.nodes.get(event.data.nodeId);
      if (node === undefined) {
        anomaly(`output contract for unknown node ${event.data.nodeId}`);
        return;
      }
      node.outputContractJson = event.data.outputContractJson;
    },
    inverse: { carriedBy: 'NodeRegistered', note: "a node record holds the node's last output contract, which NodeRegistered's inverse writes" },
  },

  EdgeRegistered: {
    evolve(state, event, anomaly) {
      const d = event.data;
      if (!addOnce(state.edges, d.edgeId, { ...d, createdAt: event.recordedAt }, anomaly, `edge ${d.edgeId} registered`)) return;
      state.edgeByLabel.set(edgeLabelKey(d.fromNodeId, d.label), d.edgeId);
      if (!state.nodes.has(d.fromNodeId) || !state.nodes.has(d.toNodeId)) anomaly(`edge ${d.edgeId} joins a node that is not registered`);
    },
    inverse: {
      seat: 'body',
      *invert(records): Generator<Inverted<'EdgeRegistered'>> {
        for (const i of records.of('edge')) {
          const { createdAt, ...data } = records.get(i, 'edge');
          yield { data, at: createdAt, creates: [i], needs: [...records.find('node', 'nodeId', data.fromNodeId), ...records.find('node', 'nodeId', data.toNodeId)] };
        }
      },
    },
  },

  RowCreated: {
    evolve(state, event, anomaly) {
      const d = event.data;
      if (!addOnce(state.rows, d.rowId, { ...d, createdAt: event.recordedAt }, anomaly, `row ${d.rowId} created`)) return;
      if (state.rowByIndex.has(d.rowIndex)) anomaly(`row index ${d.rowIndex} used twice`);
      else state.rowByIndex.set(d.rowIndex, d.rowId);
    },
    inverse: {
      seat: 'body',
      *invert(records): Generator<Inverted<'RowCreated'>> {
        for (const i of records.of('row')) {
          const { createdAt, ...data } = records.get(i, 'row');
          yield { data, at: createdAt, creates: [i] };
        }
      },
    },
  },

  TokenCreated: {
    evolve(state, event, anomaly) {
      const d = event.data;
      addToken(state, anomaly, {
        tokenId: d.tokenId,
        rowId: d.rowId,
        stepInPipeline: d.stepInPipeline,
        branchName: d.branchName,
        forkGroupId: null,
        joinGroupId: null,
        expandGroupId: null,
        batchId: null,
        createdAt: event.recordedAt,
      });
    },
    inverse: {
      // every token that no fork, expand, coalesce or batch output creates, and that has no parents
      // (one with parents is left uncreated, and import refuses it)
      seat: 'body',
      *invertRest(records, isCreated): Generator<Inverted<'TokenCreated'>> {
        for (const i of records.of('token')) {
          if (isCreated(i)) continue;
          const e = records.get(i, 'token');
          if (records.where('token_parent', 'tokenId', e.tokenId).length > 0) continue;
          yield {
            data: { tokenId: e.tokenId, rowId: e.rowId, branchName: e.branchName, stepInPipeline: e.stepInPipeline },
            at: e.createdAt,
            creates: [i],
            needs: records.find('row', 'rowId', e.rowId),
          };
        }
      },
    },
  },

  TokenForked: {
    evolve(state, event, anomaly) {
      const d = event.data;
      const at = event.recordedAt;
      const group: Group = { groupId: d.forkGroupId, kind: 'fork', parentTokenIds: [d.parentTokenId], childTokenIds: [], seq: event.seq };
      addGroup(state, anomaly, group);
      for (const child of d.children) {
        addToken(state, anomaly, {
          tokenId: child.tokenId,
          rowId: d.rowId,
          stepInPipeline: d.stepInPipeline,
          branchName: child.branchName,
          forkGroupId: d.forkGroupId,
          joinGroupId: null,
          expandGroupId: null,
          batchId: null,
          createdAt: at,
        });
        linkParent(state, anomaly, child.tokenId, d.parentTokenId, group.childTokenIds.length);
        group.childTokenIds.push(child.tokenId);
      }
      addOutcome(state, anomaly, {
        outcomeId: d.outcomeId,
        tokenId: d.parentTokenId,
        outcome: 'forked',
        isTerminal: true,
        recordedAt: d.outcomeRecordedAt ?? at,
        sinkName: null,
        batchId: null,
        forkGroupId: d.forkGroupId,
        joinGroupId: null,
        expandGroupId: null,
        errorHash: null,
        contextJson: d.contextJson,
        expectedBranchesJson: d.children.map((c) => c.branchName),
      });
    },
    inverse: {
      // one per fork group: its children, their parent links and the parent's forked outcome
      seat: 'body',
      *invert(records): Generator<Inverted<'TokenForked'>> {
        for (const [groupId, children] of tokenGroups(records).fork) {
          const g = splitGroup(records, 'fork', groupId, children);
          yield {
            data: {
              parentTokenId: g.parentTokenId,
              rowId: g.first.rowId,
              forkGroupId: groupId,
              stepInPipeline: g.first.stepInPipeline,
              // (a child without a branch name is refused by the event's codec when the event is built)
              children: g.children.map((c) => ({ tokenId: records.get(c, 'token').tokenId, branchName: records.get(c, 'token').branchName as string })),
              outcomeId: g.outcome.outcomeId,
              contextJson: g.outcome.contextJson,
              ...g.late,
            },
            at: g.first.createdAt,
            creates: g.creates,
            needs: g.needs,
          };
        }
      },
    },
  },

  TokenExpanded: {
    evolve(state, event, anomaly) {
      const d = event.data;
      const at = event.recordedAt;
      const parent = state.tokens.get(d.parentTokenId);
      const group: Group = { groupId: d.expandGroupId, kind: 'expand', parentTokenIds: [d.parentTokenId], childTokenIds: [], seq: event.seq };
      addGroup(state, anomaly, group);
      for (const child of d.children) {
        addToken(state, anomaly, {
          tokenId: child.tokenId,
          rowId: d.rowId,
          stepInPipeline: d.stepInPipeline,
          // children inherit the parent's branch
          branchName: parent?.branchName ?? null,
          forkGroupId: null,
          joinGroupId: null,
          expandGroupId: d.expandGroupId,
          batchId: null,
          createdAt: at,
        });
        linkParent(state, anomaly, child.tokenId, d.parentTokenId, group.childTokenIds.length);
        group.childTokenIds.push(child.tokenId);
      }
      addOutcome(state, anomaly, {
        outcomeId: d.outcomeId,
        tokenId: d.parentTokenId,
        outcome: 'expanded',
        isTerminal: true,
        recordedAt: d.outcomeRecordedAt ?? at,
        sinkName: null,
        batchId: null,
        forkGroupId: null,
        joinGroupId: null,
        expandGroupId: d.expandGroupId,
        errorHash: null,
        contextJson: d.contextJson,
        expectedBranchesJson: { count: d.children.length },
      });
    },
    inverse: {
      // one per expand group: its children, their parent links and the parent's expanded outcome
      seat: 'body',
      *invert(records): Generator<Inverted<'TokenExpanded'>> {
        for (const [groupId, children] of tokenGroups(records).expand) {
          const g = splitGroup(records, 'expand', groupId, children);
          yield {
            data: {
              parentTokenId: g.parentTokenId,
              rowId: g.first.rowId,
              expandGroupId: groupId,
              stepInPipeline: g.first.stepInPipeline,
              children: g.children.map((c) => ({ tokenId: records.get(c, 'token').tokenId })),
              outcomeId: g.outcome.outcomeId,
              contextJson: g.outcome.contextJson,
              ...g.late,
            },
            at: g.first.createdAt,
            creates: g.creates,
            needs: g.needs,
          };
        }
      },
    },
  },

  TokensCoalesced: {
    evolve(state, event, anomaly) {
      const d = event.data;
      const at = event.recordedAt;
      const group: Group = { groupId: d.joinGroupId, kind: 'join', parentTokenIds: [], childTokenIds: [d.mergedTokenId], seq: event.seq };
      addGroup(state, anomaly, group);
      addToken(state, anomaly, {
        tokenId: d.mergedTokenId,
        rowId: d.rowId,
        stepInPipeline: d.stepInPipeline,
        branchName: d.branchName,
        forkGroupId: null,
        joinGroupId: d.joinGroupId,
        expandGroupId: null,
        batchId: null,
        createdAt: at,
      });
      d.parents.forEach((p, ordinal) => {
        linkParent(state, anomaly, d.mergedTokenId, p.tokenId, ordinal);
        group.parentTokenIds.push(p.tokenId);
        if (p.stateId !== null) {
          const ns = state.nodeStates.get(p.stateId);
          if (ns === undefined || ns.status !== 'open') {
            anomaly(`coalesce completes state ${p.stateId}, which is ${ns === undefined ? 'unknown' : ns.status}`);
          } else {
            finishState(state, ns, 'completed', at, p.durationMs);
            ns.outputHash = d.stateOutputHash;
            ns.contextAfterJson = d.contextJson;
          }
        }
        addOutcome(state, anomaly, {
          outcomeId: p.outcomeId,
          tokenId: p.tokenId,
          outcome: 'coalesced',
          isTerminal: true,
          recordedAt: p.outcomeRecordedAt ?? at,
          sinkName: null,
          batchId: null,
          forkGroupId: null,
          joinGroupId: d.joinGroupId,
          expandGroupId: null,
          errorHash: null,
          contextJson: d.contextJson,
          expectedBranchesJson: null,
        });
      });
    },
    inverse: {
      // one per join group: the merged token, its parent links and every parent's coalesced outcome;
      // the parents' completed coalesce states are NodeStateCompleted's (stateId null here)
      seat: 'body',
      *invert(records): Generator<Inverted<'TokensCoalesced'>> {
        for (const [groupId, merged] of tokenGroups(records).join) {
          if (merged.length !== 1) records.fail(`join group ${groupId} has ${merged.length} merged tokens; a coalesce creates one`, { groupId });
          const m = records.get(merged[0]!, 'token');
          const links = records.where('token_parent', 'tokenId', m.tokenId);
          if (links.length === 0) records.fail(`${records.describe(merged[0]!)} is a merged token without parents`, { groupId });
          const parentOf = (l: number): string => records.get(l, 'token_parent').parentTokenId;
          const outcomes = links.map((l) => outcomeOf(records, parentOf(l), 'coalesced', 'joinGroupId', groupId));
          yield {
            data: {
              mergedTokenId: m.tokenId,
              rowId: m.rowId,
              joinGroupId: groupId,
              stepInPipeline: m.stepInPipeline,
              branchName: m.branchName,
              parents: links.map((l, k) => {
                const o = records.get(outcomes[k]!, 'token_outcome');
                return { tokenId: parentOf(l), outcomeId: o.outcomeId, stateId: null, durationMs: null, ...lateOutcome(o, m.createdAt) };
              }),
              stateOutputHash: stableHash({ merged_into: m.tokenId }),
              contextJson: records.get(outcomes[0]!, 'token_outcome').contextJson,
            },
            at: m.createdAt,
            creates: [merged[0]!, ...links, ...outcomes],
            needs: [...links.flatMap((l) => records.find('token', 'tokenId', parentOf(l))), ...records.find('row', 'rowId', m.rowId)],
          };
        }
      },
    },
  },

  NodeStateOpened: {
    evolve(state, event, anomaly) {
      const d = event.data;
      if (state.nodeStates.has(d.stateId)) {
        anomaly(`node state ${d.stateId} opened twice`);
        return;
      }
      const ns: NodeState = {
        stateId: d.stateId,
        tokenId: d.tokenId,
        nodeId: d.nodeId,
        stepIndex: d.stepIndex,
        attempt: d.attempt,
        status: 'open',
        inputHash: d.inputHash,
        outputHash: null,
        durationMs: null,
        startedAt: event.recordedAt,
        completedAt: null,
        contextBeforeJson: d.contextBeforeJson,
        contextAfterJson: null,
        errorJson: null,
        successReasonJson: null,
      };
      state.nodeStates.set(d.stateId, ns);
      pushTo(state.statesByToken, d.tokenId, d.stateId);
      state.unfinishedStates.add(d.stateId);
      if (!state.tokens.has(d.tokenId)) anomaly(`node state ${d.stateId} for unknown token ${d.tokenId}`);
    },
    inverse: {
      seat: 'body',
      *invert(records): Generator<Inverted<'NodeStateOpened'>> {
        for (const i of records.of('node_state')) {
          const e = records.get(i, 'node_state');
          yield {
            data: { stateId: e.stateId, tokenId: e.tokenId, nodeId: e.nodeId, stepIndex: e.stepIndex, attempt: e.attempt, inputHash: e.inputHash, contextBeforeJson: e.contextBeforeJson },
            at: e.startedAt,
            creates: [i],
            needs: records.find('token', 'tokenId', e.tokenId),
          };
        }
      },
    },
  },

  NodeStateCompleted: {
    evolve(state, event, anomaly) {
      const ns = stateToEnd(state, event, anomaly);
      if (ns === undefined) return;
      finishState(state, ns, 'completed', event.recordedAt, event.data.durationMs);
      ns.outputHash = event.data.outputHash;
      ns.successReasonJson = event.data.successReasonJson;
      ns.contextAfterJson = event.data.contextAfterJson;
    },
    inverse: {
      // also the completion of a coalesce state (TokensCoalesced rebuilds its parents' states as open)
      seat: 'body',
      invert: (records) =>
        stateEndings(records, 'completed', (e): Inverted<'NodeStateCompleted'>['data'] => ({
          stateId: e.stateId,
          outputHash: e.outputHash,
          durationMs: e.durationMs,
          successReasonJson: e.successReasonJson,
          contextAfterJson: e.contextAfterJson,
        })),
    },
  },

  NodeStateFailed: {
    evolve(state, event, anomaly) {
      const ns = stateToEnd(state, event, anomaly);
      if (ns === undefined) return;
      finishState(state, ns, 'failed', event.recordedAt, event.data.durationMs);
      ns.outputHash = event.data.outputHash;
      ns.errorJson = event.data.errorJson;
      ns.contextAfterJson = event.data.contextAfterJson;
    },
    inverse: {
      seat: 'body',
      invert: (records) =>
        stateEndings(records, 'failed', (e): Inverted<'NodeStateFailed'>['data'] => ({
          stateId: e.stateId,
          outputHash: e.outputHash,
          durationMs: e.durationMs,
          errorJson: e.errorJson,
          contextAfterJson: e.contextAfterJson,
        })),
    },
  },

  NodeStatePending: {
    evolve(state, event, anomaly) {
      const ns = stateToEnd(state, event, anomaly);
      if (ns === undefined) return;
      ns.status = 'pending';
      ns.completedAt = event.recordedAt;
      ns.durationMs = event.data.durationMs;
      ns.contextAfterJson = event.data.contextAfterJson;
    },
    inverse: {
      // only a state still pending: one that went pending and then ended is one completion
      seat: 'body',
      invert: (records) =>
        stateEndings(records, 'pending', (e): Inverted<'NodeStatePending'>['data'] => ({ stateId: e.stateId, durationMs: e.durationMs, contextAfterJson: e.contextAfterJson })),
    },
  },

  RoutingDecided: {
    evolve(state, event, anomaly) {
      const d = event.data;
      for (const r of d.routes) {
        if (state.routingEvents.has(r.eventId)) {
          anomaly(`routing event ${r.eventId} recorded twice`);
          continue;
        }
        state.routingEvents.set(r.eventId, {
          eventId: r.eventId,
          stateId: d.stateId,
          edgeId: r.edgeId,
          routingGroupId: d.routingGroupId,
          ordinal: r.ordinal,
          mode: r.mode,
          reasonHash: d.reasonHash,
          reasonRef: d.reasonRef,
          createdAt: event.recordedAt,
        });
        pushTo(state.routingByState, d.stateId, r.eventId);
      }
      if (!state.nodeStates.has(d.stateId)) anomaly(`routing decision for unknown node state ${d.stateId}`);
    },
    inverse: {
      // one per run of consecutive routing records of one decision (same state, group, time and reason)
      seat: 'body',
      *invert(records): Generator<Inverted<'RoutingDecided'>> {
        type Route = Pick<RoutingEvent, 'eventId' | 'edgeId' | 'mode' | 'ordinal'>;
        let cur: { key: string; last: number; routes: Route[]; creates: number[]; event: Inverted<'RoutingDecided'> } | null = null;
        for (const i of records.of('routing_event')) {
          const e = records.get(i, 'routing_event');
          const key = canonicalize([e.stateId, e.routingGroupId, e.createdAt, e.reasonHash, e.reasonRef]);
          const route = { eventId: e.eventId, edgeId: e.edgeId, mode: e.mode, ordinal: e.ordinal };
          if (cur !== null && cur.last === i - 1 && cur.key === key) {
            cur.routes.push(route);
            cur.creates.push(i);
            cur.last = i;
            continue;
          }
          if (cur !== null) yield cur.event;
          const routes = [route];
          const creates = [i];
          const event = {
            data: { stateId: e.stateId, routingGroupId: e.routingGroupId, routes, reasonHash: e.reasonHash, reasonRef: e.reasonRef },
            at: e.createdAt,
            creates,
            needs: records.find('node_state', 'stateId', e.stateId),
          };
          cur = { key, last: i, routes, creates, event };
        }
        if (cur !== null) yield cur.event;
      },
    },
  },

  CallRecorded: {
    evolve(state, event, anomaly) {
      const d = event.data;
      if (state.calls.has(d.callId)) {
        anomaly(`call ${d.callId} recorded twice`);
        return;
      }
      state.calls.set(d.callId, { ...d, createdAt: event.recordedAt });
      if (d.stateId !== null) pushTo(state.callsByState, d.stateId, d.callId);
      if (d.operationId !== null) pushTo(state.callsByOperation, d.operationId, d.callId);
      if ((d.stateId === null) === (d.operationId === null)) anomaly(`call ${d.callId} has ${d.stateId === null ? 'no parent' : 'two parents'}`);
      else if (d.stateId !== null && !state.nodeStates.has(d.stateId)) anomaly(`call ${d.callId} names unknown node state ${d.stateId}`);
      else if (d.operationId !== null && !state.operations.has(d.operationId)) anomaly(`call ${d.callId} names unknown operation ${d.operationId}`);
    },
    inverse: {
      seat: 'body',
      *invert(records): Generator<Inverted<'CallRecorded'>> {
        for (const i of records.of('call')) {
          const { createdAt, ...data } = records.get(i, 'call');
          yield {
            data,
            at: createdAt,
            creates: [i],
            needs: [...records.find('node_state', 'stateId', data.stateId), ...records.find('operation', 'operationId', data.operationId)],
          };
        }
      },
    },
  },

  OperationStarted: {
    evolve(state, event, anomaly) {
      const d = event.data;
      if (state.operations.has(d.operationId)) {
        anomaly(`operation ${d.operationId} started twice`);
        return;
      }
      state.operations.set(d.operationId, {
        operationId: d.operationId,
        nodeId: d.nodeId,
        operationType: d.operationType,
        status: 'open',
        startedAt: event.recordedAt,
        completedAt: null,
        durationMs: null,
        errorMessage: null,
        inputDataRef: d.inputDataRef,
        inputDataHash: d.inputDataHash,
        outputDataRef: null,
        outputDataHash: null,
      });
    },
    inverse: {
      seat: 'body',
      *invert(records): Generator<Inverted<'OperationStarted'>> {
        for (const i of records.of('operation')) {
          const e = records.get(i, 'operation');
          yield {
            data: { operationId: e.operationId, nodeId: e.nodeId, operationType: e.operationType, inputDataHash: e.inputDataHash, inputDataRef: e.inputDataRef },
            at: e.startedAt,
            creates: [i],
          };
        }
      },
    },
  },

  OperationCompleted: {
    evolve(state, event, anomaly) {
      const d = event.data;
      const op = state.operations.get(d.operationId);
      if (op === undefined || op.status !== 'open') {
        anomaly(`operation ${d.operationId} completed while ${op === undefined ? 'unknown' : op.status}`);
        return;
      }
      op.status = d.status;
      op.completedAt = event.recordedAt;
      op.durationMs = d.durationMs;
      op.errorMessage = d.errorMessage;
      op.outputDataHash = d.outputDataHash;
      op.outputDataRef = d.outputDataRef;
    },
    inverse: {
      seat: 'body',
      *invert(records): Generator<Inverted<'OperationCompleted'>> {
        for (const i of records.of('operation')) {
          const e = records.get(i, 'operation');
          if (e.status === 'open') continue;
          yield {
            data: { operationId: e.operationId, status: e.status, outputDataHash: e.outputDataHash, outputDataRef: e.outputDataRef, errorMessage: e.errorMessage, durationMs: e.durationMs },
            at: e.completedAt,
            creates: [],
            changes: i,
          };
        }
      },
    },
  },

  BatchCreated: {
    evolve(state, event, anomaly) {
      const d = event.data;
      createBatch(state, anomaly, d.batchId, d.aggregationNodeId, d.attempt, null, event.recordedAt, event.seq);
    },
    inverse: {
      seat: 'body',
      *invert(records): Generator<Inverted<'BatchCreated'>> {
        for (const i of records.of('batch')) {
          const e = records.get(i, 'batch');
          if (e.retriedFromBatchId !== null) continue;
          yield { data: { batchId: e.batchId, aggregationNodeId: e.aggregationNodeId, attempt: e.attempt }, at: e.createdAt, creates: [i] };
        }
      },
    },
  },

  BatchMemberAdded: {
    evolve(state, event, anomaly) {
      const d = event.data;
      addBatchMember(state, anomaly, d.batchId, d.tokenId, d.ordinal);
    },
    inverse: {
      // (a member record has no time of its own: the event takes the previous one's)
      seat: 'body',
      *invert(records): Generator<Inverted<'BatchMemberAdded'>> {
        for (const i of records.of('batch_member')) {
          const e = records.get(i, 'batch_member');
          yield {
            data: { batchId: e.batchId, tokenId: e.tokenId, ordinal: e.ordinal },
            at: null,
            creates: [i],
            needs: [...records.find('batch', 'batchId', e.batchId), ...records.find('token', 'tokenId', e.tokenId)],
          };
        }
      },
    },
  },

  BatchStatusChanged: {
    evolve(state, event, anomaly) {
      const d = event.data;
      const b = state.batches.get(d.batchId);
      if (b === undefined) {
        anomaly(`status change for unknown batch ${d.batchId}`);
        return;
      }
      if (b.status === 'completed' || b.status === 'failed') {
        anomaly(`batch ${d.batchId} changed to ${d.status} after it was ${b.status}`);
        return;
      }
      b.status = d.status;
      if (d.triggerType !== null) b.triggerType = d.triggerType;
      if (d.triggerReason !== null) b.triggerReason = d.triggerReason;
      if (d.aggregationStateId !== null) b.aggregationStateId = d.aggregationStateId;
      if (d.status === 'completed' || d.status === 'failed') b.completedAt = event.recordedAt;
    },
    inverse: {
      // one change to the batch's last status (executing has no time of its own)
      seat: 'body',
      *invert(records): Generator<Inverted<'BatchStatusChanged'>> {
        for (const i of records.of('batch')) {
          const e = records.get(i, 'batch');
          if (e.status === 'draft') continue;
          yield {
            data: { batchId: e.batchId, status: e.status, triggerType: e.triggerType, triggerReason: e.triggerReason, aggregationStateId: e.aggregationStateId },
            at: e.status === 'completed' || e.status === 'failed' ? e.completedAt : null,
            creates: [],
            changes: i,
          };
        }
      },
    },
  },

  BatchRetried: {
    evolve(state, event, anomaly) {
      const d = event.data;
      createBatch(state, anomaly, d.batchId, d.aggregationNodeId, d.attempt, d.retriedFromBatchId, event.recordedAt, event.seq);
      for (const m of d.members) addBatchMember(state, anomaly, d.batchId, m.tokenId, m.ordinal);
      if (state.retryOfBatch.has(d.retriedFromBatchId)) anomaly(`batch ${d.retriedFromBatchId} retried twice`);
      else state.retryOfBatch.set(d.retriedFromBatchId, d.batchId);
    },
    inverse: {
      // the retry's members are its member records' BatchMemberAdded events
      seat: 'body',
      *invert(records): Generator<Inverted<'BatchRetried'>> {
        for (const i of records.of('batch')) {
          const e = records.get(i, 'batch');
          if (e.retriedFromBatchId === null) continue;
          yield {
            data: { batchId: e.batchId, retriedFromBatchId: e.retriedFromBatchId, aggregationNodeId: e.aggregationNodeId, attempt: e.attempt, members: [] },
            at: e.createdAt,
            creates: [i],
          };
        }
      },
    },
  },

  BatchOutputsProduced: {
    evolve(state, event, anomaly) {
      const d = event.data;
      const members = state.batchMembers.get(d.batchId) ?? [];
      const group = state.groups.get(d.batchId);
      if (!state.batches.has(d.batchId) || group === undefined) anomaly(`outputs for unknown batch ${d.batchId}`);
      const outputs = state.batchOutputs.get(d.batchId) ?? [];
      if (!state.batchOutputs.has(d.batchId)) state.batchOutputs.set(d.batchId, outputs);
      for (const out of d.tokens) {
        addToken(state, anomaly, {
          tokenId: out.tokenId,
          rowId: out.rowId,
          stepInPipeline: d.stepInPipeline,
          branchName: null,
          forkGroupId: null,
          joinGroupId: null,
          expandGroupId: null,
          batchId: d.batchId,
          createdAt: event.recordedAt,
        });
        for (const m of members) linkParent(state, anomaly, out.tokenId, m.tokenId, m.ordinal);
        outputs.push({ batchId: d.batchId, outputType: 'token', outputId: out.tokenId, ordinal: outputs.length, expandGroupId: out.expandGroupId ?? null });
        group?.childTokenIds.push(out.tokenId);
      }
      for (const artifactId of d.artifactIds) {
        outputs.push({ batchId: d.batchId, outputType: 'artifact', outputId: artifactId, ordinal: outputs.length, expandGroupId: null });
        if (!state.artifacts.has(artifactId)) anomaly(`batch ${d.batchId} output names unknown artifact ${artifactId}`);
      }
    },
    inverse: {
      // per batch, one per run of token outputs (same time, step and parents) followed by artifact outputs
      seat: 'body',
      invert: batchOutputEvents,
    },
  },

  ArtifactRegistered: {
    evolve(state, event, anomaly) {
      const d = event.data;
      if (state.artifacts.has(d.artifactId)) {
        anomaly(`artifact ${d.artifactId} registered twice`);
        return;
      }
      state.artifacts.set(d.artifactId, {
        artifactId: d.artifactId,
        sinkNodeId: d.sinkNodeId,
        producedByStateId: d.stateIds[0]!,
        producedByStateIds: [...d.stateIds],
        artifactType: d.artifactType,
        pathOrUri: d.pathOrUri,
        contentHash: d.contentHash,
        sizeBytes: d.sizeBytes,
        idempotencyKey: d.idempotencyKey,
        createdAt: event.recordedAt,
      });
      for (const s of d.stateIds) pushTo(state.artifactsByState, s, d.artifactId);
    },
    inverse: {
      seat: 'body',
      *invert(records): Generator<Inverted<'ArtifactRegistered'>> {
        for (const i of records.of('artifact')) {
          const e = records.get(i, 'artifact');
          yield {
            data: {
              artifactId: e.artifactId,
              sinkNodeId: e.sinkNodeId,
              stateIds: e.producedByStateIds,
              artifactType: e.artifactType,
              pathOrUri: e.pathOrUri,
              contentHash: e.contentHash,
              sizeBytes: e.sizeBytes,
              idempotencyKey: e.idempotencyKey,
            },
            at: e.createdAt,
            creates: [i],
          };
        }
      },
    },
  },

  TokenOutcomeRecorded: {
    evolve(state, event, anomaly) {
      const d = event.data;
      addOutcome(state, anomaly, { ...d, isTerminal: isTerminalOutcome(d.outcome), recordedAt: event.recordedAt });
    },
    inverse: {
      // every outcome that no fork, expand or coalesce records
      seat: 'body',
      *invertRest(records, isCreated): Generator<Inverted<'TokenOutcomeRecorded'>> {
        for (const i of records.of('token_outcome')) {
          if (isCreated(i)) continue;
          const { recordedAt, isTerminal: _terminal, ...data } = records.get(i, 'token_outcome');
          yield { data, at: recordedAt, creates: [i], needs: records.find('token', 'tokenId', data.tokenId) };
        }
      },
    },
  },

  ValidationErrorRecorded: {
    evolve(state, event, anomaly) {
      const d = event.data;
      if (!addOnce(state.validationErrors, d.errorId, { ...d, createdAt: event.recordedAt }, anomaly, `validation error ${d.errorId} recorded`)) return;
      pushTo(state.validationErrorsByHash, d.rowHash, d.errorId);
    },
    inverse: {
      seat: 'body',
      *invert(records): Generator<Inverted<'ValidationErrorRecorded'>> {
        for (const i of records.of('validation_error')) {
          const { createdAt, ...data } = records.get(i, 'validation_error');
          yield { data, at: createdAt, creates: [i] };
        }
      },
    },
  },

  TransformErrorRecorded: {
    evolve(state, event, anomaly) {
      const d = event.data;
      if (!addOnce(state.transformErrors, d.errorId, { ...d, createdAt: event.recordedAt }, anomaly, `transform error ${d.errorId} recorded`)) return;
      pushTo(state.transformErrorsByToken, d.tokenId, d.errorId);
    },
    inverse: {
      seat: 'body',
      *invert(records): Generator<Inverted<'TransformErrorRecorded'>> {
        for (const i of records.of('transform_error')) {
          const { createdAt, ...data } = records.get(i, 'transform_error');
          yield { data, at: createdAt, creates: [i] };
        }
      },
    },
  },

  SecretsResolved: {
    evolve(state, event, anomaly) {
      for (const r of event.data.resolutions) {
        const entity = {
          resolutionId: r.resolutionId,
          timestamp: r.resolvedAt,
          envVarName: r.envVarName,
          source: r.source,
          vaultUrl: r.vaultUrl,
          secretName: r.secretName,
          fingerprint: r.fingerprint,
          resolutionLatencyMs: r.resolutionLatencyMs,
          recordedAt: event.recordedAt,
        };
        addOnce(state.secretResolutions, r.resolutionId, entity, anomaly, `secret resolution ${r.resolutionId} recorded`);
      }
    },
    inverse: {
      // one event per resolution
      seat: 'body',
      *invert(records): Generator<Inverted<'SecretsResolved'>> {
        for (const i of records.of('secret_resolution')) {
          const e = records.get(i, 'secret_resolution');
          yield {
            data: {
              resolutions: [
                {
                  resolutionId: e.resolutionId,
                  resolvedAt: e.timestamp,
                  envVarName: e.envVarName,
                  source: e.source,
                  vaultUrl: e.vaultUrl,
                  secretName: e.secretName,
                  fingerprint: e.fingerprint,
                  resolutionLatencyMs: e.resolutionLatencyMs,
                },
              ],
            },
            at: e.recordedAt,
            creates: [i],
          };
        }
      },
    },
  },

  PreflightRecorded: {
    evolve(state, event, anomaly) {
      for (const r of event.data.results) {
        addOnce(state.preflightResults, r.resultId, { ...r, createdAt: event.recordedAt }, anomaly, `preflight result ${r.resultId} recorded`);
      }
    },
    inverse: {
      // one event per result
      seat: 'body',
      *invert(records): Generator<Inverted<'PreflightRecorded'>> {
        for (const i of records.of('preflight_result')) {
          const e = records.get(i, 'preflight_result');
          yield { data: { results: [{ resultId: e.resultId, resultType: e.resultType, name: e.name, resultJson: e.resultJson }] }, at: e.createdAt, creates: [i] };
        }
      },
    },
  },

  CheckpointTaken: {
    evolve(state, event, anomaly) {
      const d = event.data;
      addOnce(state.checkpoints, d.checkpointId, { ...d, createdAt: event.recordedAt }, anomaly, `checkpoint ${d.checkpointId} taken`);
    },
    inverse: {
      seat: 'body',
      *invert(records): Generator<Inverted<'CheckpointTaken'>> {
        for (const i of records.of('checkpoint')) {
          const { createdAt, ...data } = records.get(i, 'checkpoint');
          yield { data, at: createdAt, creates: [i] };
        }
      },
    },
  },

  PayloadsPurged: {
    evolve(state, event, anomaly) {
      if (state.run === null) return noRun(event, anomaly);
      for (const h of event.data.hashes) state.purgedPayloads.set(h, event.data.purgedAt);
      if (event.data.reproducibilityGrade !== null) state.run.reproducibilityGrade = event.data.reproducibilityGrade;
    },
    inverse: {
      carriedBy: 'RunStarted',
      note: "an export holds no purge (which bodies were deleted is not exported; the hashes stay in the facts); the grade a purge lowers is the run record's, which RunStarted's inverse writes",
    },
  },
};

export function evolve(state: RunState, event: LedgerEvent): RunState {
  const fold = EVENT_FOLDS[event.type] as EventFold<EventType> | undefined;
  if (fold === undefined) throw new Error(`unhandled event ${(event as { type: string }).type}`);
  fold.evolve(state, event, (message) => {
    state.anomalies.push({ seq: event.seq, eventType: event.type, message });
  });
  state.version = event.seq;
  state.lastRecordedAt = event.recordedAt;
  return state;
}

/** Folds a sequence of events into a fresh or given state. */
export function foldEvents(state: RunState, events: Iterable<LedgerEvent>): RunState {
  for (const e of events) evolve(state, e);
  return state;
}

// ---------------------------------------------------------------------------
// Inverse helpers

function isTerminalRunStatus(s: string): s is (typeof TERMINAL_RUN_STATUSES)[number] {
  return (TERMINAL_RUN_STATUSES as readonly string[]).includes(s);
}

/**
 * The tokens of every fork, expand and join group and of every batch's outputs, by group id
 * (groups in order of first appearance, tokens in record order). A token that names more than
 * one is refused: no event creates it.
 */
function tokenGroups(records: RunRecords): Readonly<Record<GroupKind, Map<string, number[]>>> {
  return records.memo('tokenGroups', () => {
    const groups: Record<GroupKind, Map<string, number[]>> = { fork: new Map(), expand: new Map(), join: new Map(), batch: new Map() };
    for (const i of records.of('token')) {
      const t = records.get(i, 'token');
      const kinds = [t.forkGroupId, t.expandGroupId, t.joinGroupId, t.batchId].filter((g) => g !== null).length;
      if (kinds > 1) records.fail(`${records.describe(i)} names more than one of fork, expand, join group and batch: no event creates such a token`, { index: i });
      if (t.forkGroupId !== null) pushTo(groups.fork, t.forkGroupId, i);
      else if (t.expandGroupId !== null) pushTo(groups.expand, t.expandGroupId, i);
      else if (t.joinGroupId !== null) pushTo(groups.join, t.joinGroupId, i);
      else if (t.batchId !== null) pushTo(groups.batch, t.batchId, i);
    }
    return groups;
  });
}

/** The one outcome of `tokenId` that the event creating group `groupId` records (refused unless there is exactly one). */
function outcomeOf(records: RunRecords, tokenId: string, outcome: string, groupField: 'forkGroupId' | 'expandGroupId' | 'joinGroupId', groupId: string): number {
  const list = records.where('token_outcome', 'tokenId', tokenId).filter((o) => {
    const e = records.get(o, 'token_outcome');
    return e.outcome === outcome && e[groupField] === groupId;
  });
  if (list.length !== 1) records.fail(`token ${tokenId} has ${list.length} ${outcome} outcomes for group ${groupId}; the event that creates the group records exactly one`, { tokenId, groupId });
  return list[0]!;
}

/**
 * A fork or expand group's children in the order of their parent links' ordinals (each child's
 * position in the group), its one parent, the links and the parent's outcome (refused unless
 * every child has that one parent).
 */
/** The ending event of every node state with `status` (it changes the state's record, at the state's completedAt). */
function* stateEndings<T extends 'NodeStateCompleted' | 'NodeStateFailed' | 'NodeStatePending'>(
  records: RunRecords,
  status: 'completed' | 'failed' | 'pending',
  data: (e: NodeState) => Inverted<T>['data'],
): Generator<Inverted<T>> {
  for (const i of records.of('node_state')) {
    const e = records.get(i, 'node_state');
    if (e.status === status) yield { data: data(e), at: e.completedAt, creates: [], changes: i };
  }
}

function splitGroup(records: RunRecords, kind: 'fork' | 'expand', groupId: string, unordered: readonly number[]) {
  const linksOf = (c: number): readonly number[] => records.where('token_parent', 'tokenId', records.get(c, 'token').tokenId);
  const linkOrdinal = (c: number): number => Math.min(...linksOf(c).map((l) => records.get(l, 'token_parent').ordinal));
  const children = [...unordered].sort((a, b) => linkOrdinal(a) - linkOrdinal(b));
  const first = records.get(children[0]!, 'token');
  const links = children.flatMap(linksOf);
  const parentIds = new Set(links.map((l) => records.get(l, 'token_parent').parentTokenId));
  if (links.length !== children.length || parentIds.size !== 1) {
    records.fail(`${kind} group ${groupId}: every child must have exactly one parent, the same for all (${records.describe(children[0]!)})`, { groupId });
  }
  const parentTokenId = [...parentIds][0]!;
  const outcome = outcomeOf(records, parentTokenId, GROUP_TABLE[kind].parentOutcome, GROUP_TABLE[kind].tokenField, groupId);
  const o = records.get(outcome, 'token_outcome');
  return {
    children,
    first,
    parentTokenId,
    outcome: o,
    late: lateOutcome(o, first.createdAt),
    creates: [...children, ...links, outcome],
    needs: [...records.find('token', 'tokenId', parentTokenId), ...records.find('row', 'rowId', first.rowId)],
  };
}

/** The outcome's own time, when it is not that of the event that records it (an imported run's). */
function lateOutcome(o: TokenOutcome, eventAt: string): { outcomeRecordedAt?: string } {
  return o.recordedAt !== eventAt && o.recordedAt !== null ? { outcomeRecordedAt: o.recordedAt } : {};
}

/** One BatchOutputsProduced event: output tokens (with their parent links), then artifact outputs. */
interface Segment {
  readonly tokens: number[];
  readonly artifacts: number[];
  readonly outputs: number[];
  readonly sig: string;
  /** Number of batch members the output tokens have as parents (-1: no tokens). */
  readonly prefix: number;
}

/**
 * BatchOutputsProduced's inverse. A batch's outputs are cut into runs of token outputs made at
 * one time, at one step and with the same parents (the first members of the batch: an output
 * made before a later member was added has fewer), each followed by its artifact outputs. An
 * output event comes after the member its tokens' last parent is, and before the next member.
 */
function* batchOutputEvents(records: RunRecords): Generator<Inverted<'BatchOutputsProduced'>> {
  const who = (i: number): string => records.describe(i);
  for (const [batchId, outputs] of records.index('batch_output', 'batchId')) {
    if (batchId === null) continue;
    const members = records.where('batch_member', 'batchId', batchId);
    const memberKeys = members.map((k) => `${records.get(k, 'batch_member').tokenId}#${records.get(k, 'batch_member').ordinal}`);
    const outTokens = new Set<number>();
    const outputGroup = new Map<string, string | null>();
    for (const o of outputs) outputGroup.set(records.get(o, 'batch_output').outputId, records.get(o, 'batch_output').expandGroupId);
    let cur: Segment | null = null;
    const segments: Segment[] = [];
    for (const o of outputs) {
      const out = records.get(o, 'batch_output');
      if (out.outputType === 'token') {
        const [t] = records.find('token', 'tokenId', out.outputId);
        if (t === undefined || records.get(t, 'token').batchId !== batchId) records.fail(`${who(o)} names token ${out.outputId}, which is not an output token of batch ${batchId}`, { index: o });
        outTokens.add(t);
        const tok = records.get(t, 'token');
        const links = records.where('token_parent', 'tokenId', tok.tokenId);
        const keys = links.map((l) => `${records.get(l, 'token_parent').parentTokenId}#${records.get(l, 'token_parent').ordinal}`);
        if (keys.length > memberKeys.length || keys.some((k, j) => memberKeys[j] !== k)) {
          records.fail(`${who(t)}: its parents are not the first members of batch ${batchId}, as a batch output's parents always are`, { index: t });
        }
        const sig = `${tok.createdAt}|${String(tok.stepInPipeline)}|${keys.length}`;
        if (cur === null || cur.artifacts.length > 0 || cur.sig !== sig) {
          cur = { tokens: [], artifacts: [], outputs: [], sig, prefix: keys.length };
          segments.push(cur);
        }
        cur.tokens.push(t, ...links);
        cur.outputs.push(o);
      } else {
        if (cur === null) {
          cur = { tokens: [], artifacts: [], outputs: [], sig: '', prefix: -1 };
          segments.push(cur);
        }
        cur.artifacts.push(o);
        cur.outputs.push(o);
      }
    }
    for (const t of tokenGroups(records).batch.get(batchId) ?? []) if (!outTokens.has(t)) records.fail(`${who(t)} names batch ${batchId} but is not among its outputs`, { index: t });
    for (const s of segments) {
      const toks = s.tokens.filter((r) => records.typeOf(r) === 'token');
      const first = toks.length > 0 ? records.get(toks[0]!, 'token') : null;
      yield {
        data: {
          batchId,
          stepInPipeline: first === null ? null : first.stepInPipeline,
          tokens: toks.map((t) => {
            const tok = records.get(t, 'token');
            const eg = outputGroup.get(tok.tokenId) ?? null;
            return eg === null ? { tokenId: tok.tokenId, rowId: tok.rowId } : { tokenId: tok.tokenId, rowId: tok.rowId, expandGroupId: eg };
          }),
          artifactIds: s.artifacts.map((a) => records.get(a, 'batch_output').outputId),
        },
        at: first === null ? null : first.createdAt,
        creates: [...s.tokens, ...s.outputs],
        needs: [
          ...records.find('batch', 'batchId', batchId),
          ...toks.flatMap((t) => records.find('row', 'rowId', records.get(t, 'token').rowId)),
          ...s.artifacts.flatMap((a) => records.find('artifact', 'artifactId', records.get(a, 'batch_output').outputId)),
          ...(s.prefix > 0 ? [members[s.prefix - 1]!] : []),
        ],
        before: s.prefix >= 0 && s.prefix < members.length ? [members[s.prefix]!] : [],
      };
    }
  }
}

// ---------------------------------------------------------------------------
// Fold helpers

function noRun(event: LedgerEvent, anomaly: Anomalies): void {
  anomaly(`${event.type} before RunStarted`);
}

/** The open (or, for a completion, pending) state an end event ends; undefined (and an anomaly) when there is none. */
function stateToEnd(state: RunState, event: EventEnvelope<'NodeStateCompleted' | 'NodeStateFailed' | 'NodeStatePending'>, anomaly: Anomalies): NodeState | undefined {
  const d = event.data;
  const ns = state.nodeStates.get(d.stateId);
  if (ns === undefined) {
    anomaly(`${event.type} for unknown node state ${d.stateId}`);
    return undefined;
  }
  const allowed = ns.status === 'open' || (ns.status === 'pending' && event.type !== 'NodeStatePending');
  if (!allowed) {
    anomaly(`${event.type} for node state ${d.stateId}, which is already ${ns.status}`);
    return undefined;
  }
  return ns;
}

/** Adds an entity under a new id; a second fact with the same id is an anomaly and is not applied. Returns whether it was added. */
function addOnce<V>(map: Map<string, V>, id: string, entity: V, anomaly: (m: string) => void, what: string): boolean {
  if (map.has(id)) {
    anomaly(`${what} twice`);
    return false;
  }
  map.set(id, entity);
  return true;
}

function addToken(state: RunState, anomaly: (m: string) => void, token: Token): void {
  if (state.tokens.has(token.tokenId)) {
    anomaly(`token ${token.tokenId} created twice`);
    return;
  }
  state.tokens.set(token.tokenId, token);
  pushTo(state.tokensByRow, token.rowId, token.tokenId);
  state.unfinishedTokens.add(token.tokenId);
  if (!state.rows.has(token.rowId)) anomaly(`token ${token.tokenId} created for unknown row ${token.rowId}`);
}

function linkParent(state: RunState, anomaly: (m: string) => void, tokenId: string, parentTokenId: string, ordinal: number): void {
  pushTo(state.parents, tokenId, { tokenId, parentTokenId, ordinal });
  pushTo(state.children, parentTokenId, tokenId);
  if (!state.tokens.has(parentTokenId)) anomaly(`token ${tokenId} names unknown parent ${parentTokenId}`);
}

function addGroup(state: RunState, anomaly: (m: string) => void, group: Group): void {
  if (state.groups.has(group.groupId)) anomaly(`group id ${group.groupId} used twice`);
  else state.groups.set(group.groupId, group);
}

function addOutcome(state: RunState, anomaly: (m: string) => void, outcome: TokenOutcome): void {
  if (state.outcomes.has(outcome.outcomeId)) {
    anomaly(`outcome ${outcome.outcomeId} recorded twice`);
    return;
  }
  if (outcome.isTerminal && state.terminalOutcome.has(outcome.tokenId)) {
    anomaly(`token ${outcome.tokenId} got a second terminal outcome (${outcome.outcome})`);
  }
  state.outcomes.set(outcome.outcomeId, outcome);
  pushTo(state.outcomesByToken, outcome.tokenId, outcome.outcomeId);
  if (outcome.isTerminal && !state.terminalOutcome.has(outcome.tokenId)) {
    state.terminalOutcome.set(outcome.tokenId, outcome.outcomeId);
    state.unfinishedTokens.delete(outcome.tokenId);
  }
  if (!state.tokens.has(outcome.tokenId)) anomaly(`outcome ${outcome.outcomeId} for unknown token ${outcome.tokenId}`);
}

function finishState(state: RunState, ns: NodeState, status: 'completed' | 'failed', at: string, durationMs: number | null): void {
  ns.status = status;
  ns.completedAt = at;
  ns.durationMs = durationMs;
  state.unfinishedStates.delete(ns.stateId);
}

function createBatch(
  state: RunState,
  anomaly: (m: string) => void,
  batchId: string,
  nodeId: string,
  attempt: number,
  retriedFrom: string | null,
  at: string,
  seq: number,
): void {
  if (state.batches.has(batchId)) {
    anomaly(`batch ${batchId} created twice`);
    return;
  }
  state.batches.set(batchId, {
    batchId,
    aggregationNodeId: nodeId,
    aggregationStateId: null,
    attempt,
    status: 'draft',
    triggerType: null,
    triggerReason: null,
    retriedFromBatchId: retriedFrom,
    createdAt: at,
    completedAt: null,
  });
  state.batchMembers.set(batchId, []);
  addGroup(state, anomaly, { groupId: batchId, kind: 'batch', parentTokenIds: [], childTokenIds: [], seq });
}

function addBatchMember(state: RunState, anomaly: (m: string) => void, batchId: string, tokenId: string, ordinal: number): void {
  const members = state.batchMembers.get(batchId);
  if (members === undefined) {
    anomaly(`member ${tokenId} added to unknown batch ${batchId}`);
    return;
  }
  members.push({ batchId, tokenId, ordinal });
  pushTo(state.batchesByToken, tokenId, batchId);
  state.groups.get(batchId)?.parentTokenIds.push(tokenId);
  if (!state.tokens.has(tokenId)) anomaly(`batch ${batchId} member ${tokenId} is not a token of the run`);
}

