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
 */
import type { LedgerEvent } from '../events/envelope';
import { isTerminalOutcome } from '../events/outcomes';
import type { NodeState, Token, TokenOutcome } from './entities';
import { edgeLabelKey, Group, pushTo, RunState } from './state';

export function evolve(state: RunState, event: LedgerEvent): RunState {
  const at = event.recordedAt;
  const seq = event.seq;
  const anomaly = (message: string): void => {
    state.anomalies.push({ seq, eventType: event.type, message });
  };

  switch (event.type) {
    case 'RunStarted': {
      const d = event.data;
      if (state.run !== null) {
        anomaly('a second RunStarted in the same run');
        break;
      }
      state.run = {
        runId: event.runId,
        status: 'running',
        startedAt: at,
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
      break;
    }
    case 'RunStatusChanged': {
      if (state.run === null) return noRun(state, event, anomaly);
      state.run.status = event.data.status;
      break;
    }
    case 'RunCompleted': {
      if (state.run === null) return noRun(state, event, anomaly);
      state.run.status = event.data.status;
      state.run.completedAt = at;
      if (event.data.reproducibilityGrade !== null) state.run.reproducibilityGrade = event.data.reproducibilityGrade;
      break;
    }
    case 'ExportStatusChanged': {
      if (state.run === null) return noRun(state, event, anomaly);
      const d = event.data;
      state.run.exportStatus = d.status;
      state.run.exportError = d.error;
      if (d.format !== null) state.run.exportFormat = d.format;
      if (d.sink !== null) state.run.exportSink = d.sink;
      if (d.status === 'completed') state.run.exportedAt = at;
      break;
    }
    case 'SourceFieldResolutionRecorded': {
      if (state.run === null) return noRun(state, event, anomaly);
      state.run.sourceFieldResolutionJson = {
        resolution_mapping: event.data.resolutionMapping,
        normalization_version: event.data.normalizationVersion,
      };
      break;
    }
    case 'RunContractLocked': {
      if (state.run === null) return noRun(state, event, anomaly);
      state.run.schemaContractJson = event.data.schemaContractJson;
      state.run.schemaContractHash = event.data.schemaContractHash;
      break;
    }
    case 'NodeRegistered': {
      const d = event.data;
      addOnce(state.nodes, d.nodeId, { ...d, registeredAt: at }, anomaly, `node ${d.nodeId} registered`);
      break;
    }
    case 'NodeOutputContractUpdated': {
      const node = state.nodes.get(event.data.nodeId);
      if (node === undefined) {
        anomaly(`output contract for unknown node ${event.data.nodeId}`);
        break;
      }
      node.outputContractJson = event.data.outputContractJson;
      break;
    }
    case 'EdgeRegistered': {
      const d = event.data;
      if (!addOnce(state.edges, d.edgeId, { ...d, createdAt: at }, anomaly, `edge ${d.edgeId} registered`)) break;
      state.edgeByLabel.set(edgeLabelKey(d.fromNodeId, d.label), d.edgeId);
      if (!state.nodes.has(d.fromNodeId) || !state.nodes.has(d.toNodeId)) anomaly(`edge ${d.edgeId} joins a node that is not registered`);
      break;
    }
    case 'RowCreated': {
      const d = event.data;
      if (!addOnce(state.rows, d.rowId, { ...d, createdAt: at }, anomaly, `row ${d.rowId} created`)) break;
      if (state.rowByIndex.has(d.rowIndex)) anomaly(`row index ${d.rowIndex} used twice`);
      else state.rowByIndex.set(d.rowIndex, d.rowId);
      break;
    }
    case 'TokenCreated': {
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
        createdAt: at,
      });
      break;
    }
    case 'TokenForked': {
      const d = event.data;
      const group: Group = { groupId: d.forkGroupId, kind: 'fork', parentTokenIds: [d.parentTokenId], childTokenIds: [], seq };
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
      break;
    }
    case 'TokenExpanded': {
      const d = event.data;
      const parent = state.tokens.get(d.parentTokenId);
      const group: Group = { groupId: d.expandGroupId, kind: 'expand', parentTokenIds: [d.parentTokenId], childTokenIds: [], seq };
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
      break;
    }
    case 'TokensCoalesced': {
      const d = event.data;
      const group: Group = { groupId: d.joinGroupId, kind: 'join', parentTokenIds: [], childTokenIds: [d.mergedTokenId], seq };
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
      break;
    }
    case 'NodeStateOpened': {
      const d = event.data;
      if (state.nodeStates.has(d.stateId)) {
        anomaly(`node state ${d.stateId} opened twice`);
        break;
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
        startedAt: at,
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
      break;
    }
    case 'NodeStateCompleted':
    case 'NodeStateFailed':
    case 'NodeStatePending': {
      const d = event.data;
      const ns = state.nodeStates.get(d.stateId);
      if (ns === undefined) {
        anomaly(`${event.type} for unknown node state ${d.stateId}`);
        break;
      }
      const allowed = ns.status === 'open' || (ns.status === 'pending' && event.type !== 'NodeStatePending');
      if (!allowed) {
        anomaly(`${event.type} for node state ${d.stateId}, which is already ${ns.status}`);
        break;
      }
      if (event.type === 'NodeStateCompleted') {
        finishState(state, ns, 'completed', at, event.data.durationMs);
        ns.outputHash = event.data.outputHash;
        ns.successReasonJson = event.data.successReasonJson;
        ns.contextAfterJson = event.data.contextAfterJson;
      } else if (event.type === 'NodeStateFailed') {
        finishState(state, ns, 'failed', at, event.data.durationMs);
        ns.outputHash = event.data.outputHash;
        ns.errorJson = event.data.errorJson;
        ns.contextAfterJson = event.data.contextAfterJson;
      } else {
        ns.status = 'pending';
        ns.completedAt = at;
        ns.durationMs = event.data.durationMs;
        ns.contextAfterJson = event.data.contextAfterJson;
      }
      break;
    }
    case 'RoutingDecided': {
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
          createdAt: at,
        });
        pushTo(state.routingByState, d.stateId, r.eventId);
      }
      if (!state.nodeStates.has(d.stateId)) anomaly(`routing decision for unknown node state ${d.stateId}`);
      break;
    }
    case 'CallRecorded': {
      const d = event.data;
      if (state.calls.has(d.callId)) {
        anomaly(`call ${d.callId} recorded twice`);
        break;
      }
      state.calls.set(d.callId, { ...d, createdAt: at });
      if (d.stateId !== null) pushTo(state.callsByState, d.stateId, d.callId);
      if (d.operationId !== null) pushTo(state.callsByOperation, d.operationId, d.callId);
      if ((d.stateId === null) === (d.operationId === null)) anomaly(`call ${d.callId} has ${d.stateId === null ? 'no parent' : 'two parents'}`);
      else if (d.stateId !== null && !state.nodeStates.has(d.stateId)) anomaly(`call ${d.callId} names unknown node state ${d.stateId}`);
      else if (d.operationId !== null && !state.operations.has(d.operationId)) anomaly(`call ${d.callId} names unknown operation ${d.operationId}`);
      break;
    }
    case 'OperationStarted': {
      const d = event.data;
      if (state.operations.has(d.operationId)) {
        anomaly(`operation ${d.operationId} started twice`);
        break;
      }
      state.operations.set(d.operationId, {
        operationId: d.operationId,
        nodeId: d.nodeId,
        operationType: d.operationType,
        status: 'open',
        startedAt: at,
        completedAt: null,
        durationMs: null,
        errorMessage: null,
        inputDataRef: d.inputDataRef,
        inputDataHash: d.inputDataHash,
        outputDataRef: null,
        outputDataHash: null,
      });
      break;
    }
    case 'OperationCompleted': {
      const d = event.data;
      const op = state.operations.get(d.operationId);
      if (op === undefined || op.status !== 'open') {
        anomaly(`operation ${d.operationId} completed while ${op === undefined ? 'unknown' : op.status}`);
        break;
      }
      op.status = d.status;
      op.completedAt = at;
      op.durationMs = d.durationMs;
      op.errorMessage = d.errorMessage;
      op.outputDataHash = d.outputDataHash;
      op.outputDataRef = d.outputDataRef;
      break;
    }
    case 'BatchCreated': {
      const d = event.data;
      createBatch(state, anomaly, d.batchId, d.aggregationNodeId, d.attempt, null, at, seq);
      break;
    }
    case 'BatchMemberAdded': {
      const d = event.data;
      addBatchMember(state, anomaly, d.batchId, d.tokenId, d.ordinal);
      break;
    }
    case 'BatchStatusChanged': {
      const d = event.data;
      const b = state.batches.get(d.batchId);
      if (b === undefined) {
        anomaly(`status change for unknown batch ${d.batchId}`);
        break;
      }
      if (b.status === 'completed' || b.status === 'failed') {
        anomaly(`batch ${d.batchId} changed to ${d.status} after it was ${b.status}`);
        break;
      }
      b.status = d.status;
      if (d.triggerType !== null) b.triggerType = d.triggerType;
      if (d.triggerReason !== null) b.triggerReason = d.triggerReason;
      if (d.aggregationStateId !== null) b.aggregationStateId = d.aggregationStateId;
      if (d.status === 'completed' || d.status === 'failed') b.completedAt = at;
      break;
    }
    case 'BatchRetried': {
      const d = event.data;
      createBatch(state, anomaly, d.batchId, d.aggregationNodeId, d.attempt, d.retriedFromBatchId, at, seq);
      for (const m of d.members) addBatchMember(state, anomaly, d.batchId, m.tokenId, m.ordinal);
      if (state.retryOfBatch.has(d.retriedFromBatchId)) anomaly(`batch ${d.retriedFromBatchId} retried twice`);
      else state.retryOfBatch.set(d.retriedFromBatchId, d.batchId);
      break;
    }
    case 'BatchOutputsProduced': {
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
          createdAt: at,
        });
        for (const m of members) linkParent(state, anomaly, out.tokenId, m.tokenId, m.ordinal);
        outputs.push({ batchId: d.batchId, outputType: 'token', outputId: out.tokenId, ordinal: outputs.length, expandGroupId: out.expandGroupId ?? null });
        group?.childTokenIds.push(out.tokenId);
      }
      for (const artifactId of d.artifactIds) {
        outputs.push({ batchId: d.batchId, outputType: 'artifact', outputId: artifactId, ordinal: outputs.length, expandGroupId: null });
        if (!state.artifacts.has(artifactId)) anomaly(`batch ${d.batchId} output names unknown artifact ${artifactId}`);
      }
      break;
    }
    case 'ArtifactRegistered': {
      const d = event.data;
      if (state.artifacts.has(d.artifactId)) {
        anomaly(`artifact ${d.artifactId} registered twice`);
        break;
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
        createdAt: at,
      });
      for (const s of d.stateIds) pushTo(state.artifactsByState, s, d.artifactId);
      break;
    }
    case 'TokenOutcomeRecorded': {
      const d = event.data;
      addOutcome(state, anomaly, { ...d, isTerminal: isTerminalOutcome(d.outcome), recordedAt: at });
      break;
    }
    case 'ValidationErrorRecorded': {
      const d = event.data;
      if (!addOnce(state.validationErrors, d.errorId, { ...d, createdAt: at }, anomaly, `validation error ${d.errorId} recorded`)) break;
      pushTo(state.validationErrorsByHash, d.rowHash, d.errorId);
      break;
    }
    case 'TransformErrorRecorded': {
      const d = event.data;
      if (!addOnce(state.transformErrors, d.errorId, { ...d, createdAt: at }, anomaly, `transform error ${d.errorId} recorded`)) break;
      pushTo(state.transformErrorsByToken, d.tokenId, d.errorId);
      break;
    }
    case 'SecretsResolved': {
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
          recordedAt: at,
        };
        addOnce(state.secretResolutions, r.resolutionId, entity, anomaly, `secret resolution ${r.resolutionId} recorded`);
      }
      break;
    }
    case 'PreflightRecorded': {
      for (const r of event.data.results) {
        addOnce(state.preflightResults, r.resultId, { ...r, createdAt: at }, anomaly, `preflight result ${r.resultId} recorded`);
      }
      break;
    }
    case 'CheckpointTaken': {
      const d = event.data;
      addOnce(state.checkpoints, d.checkpointId, { ...d, createdAt: at }, anomaly, `checkpoint ${d.checkpointId} taken`);
      break;
    }
    case 'PayloadsPurged': {
      if (state.run === null) return noRun(state, event, anomaly);
      for (const h of event.data.hashes) state.purgedPayloads.set(h, event.data.purgedAt);
      if (event.data.reproducibilityGrade !== null) state.run.reproducibilityGrade = event.data.reproducibilityGrade;
      break;
    }
    default: {
      const never: never = event;
      throw new Error(`unhandled event ${(never as { type: string }).type}`);
    }
  }
  state.version = seq;
  state.lastRecordedAt = at;
  return state;
}

/** Folds a sequence of events into a fresh or given state. */
export function foldEvents(state: RunState, events: Iterable<LedgerEvent>): RunState {
  for (const e of events) evolve(state, e);
  return state;
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

function noRun(state: RunState, event: LedgerEvent, anomaly: (m: string) => void): RunState {
  anomaly(`${event.type} before RunStarted`);
  state.version = event.seq;
  state.lastRecordedAt = event.recordedAt;
  return state;
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

