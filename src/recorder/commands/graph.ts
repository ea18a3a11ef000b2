/**
 * Graph commands: the pipeline's nodes and the labelled edges between them.
 */
import type * as t from 'io-ts';
import { Determinism, NodeType, RoutingMode, SchemaMode } from '../../events/catalogue';
import { Hash, Id, JsonValue, NonEmptyString, NonNegativeInt, struct } from '../../events/codecs';
import { ledgerError } from '../../errors';
import { edgeLabelKey, RunState } from '../../projections/state';
import { command, DecideContext, Decision, ev, one } from './command';
import { requireFreshId, requireNode, requireRunning } from './guards';
import { hashOf } from './hashing';

export const RegisterNodeInput = struct(
  'RegisterNodeInput',
  { pluginName: NonEmptyString, nodeType: NodeType, pluginVersion: NonEmptyString, config: JsonValue },
  {
    nodeId: Id,
    determinism: Determinism,
    schemaHash: Hash,
    schemaMode: SchemaMode,
    schemaFields: JsonValue,
    sequence: NonNegativeInt,
    inputContract: JsonValue,
    outputContract: JsonValue,
  },
);

export const RegisterEdgeInput = struct('RegisterEdgeInput', { fromNodeId: Id, toNodeId: Id, label: NonEmptyString, mode: RoutingMode }, { edgeId: Id });

export type RegisterNodeInput = t.TypeOf<typeof RegisterNodeInput>;
export type RegisterEdgeInput = t.TypeOf<typeof RegisterEdgeInput>;

function decideRegisterNode(state: RunState, i: RegisterNodeInput, ctx: DecideContext): Decision<{ nodeId: string; configHash: string }> {
  requireRunning(state);
  const nodeId = i.nodeId ?? ctx.newId();
  requireFreshId(state, state.nodes.has(nodeId), nodeId, 'nodeId');
  const configHash = hashOf(i.config, 'config');
  return one(
    ev('NodeRegistered', {
      nodeId,
      pluginName: i.pluginName,
      nodeType: i.nodeType,
      pluginVersion: i.pluginVersion,
      determinism: i.determinism ?? 'deterministic',
      config: i.config,
      configHash,
      schemaHash: i.schemaHash ?? null,
      schemaMode: i.schemaMode ?? null,
      schemaFields: i.schemaFields ?? null,
      sequenceInPipeline: i.sequence ?? null,
      inputContractJson: i.inputContract ?? null,
      outputContractJson: i.outputContract ?? null,
    }),
    { nodeId, configHash },
  );
}

function decideRegisterEdge(state: RunState, i: RegisterEdgeInput, ctx: DecideContext): Decision<{ edgeId: string }> {
  requireRunning(state);
  requireNode(state, i.fromNodeId, 'fromNodeId');
  requireNode(state, i.toNodeId, 'toNodeId');
  const existing = state.edgeByLabel.get(edgeLabelKey(i.fromNodeId, i.label));
  if (existing !== undefined) {
    throw ledgerError('DUPLICATE_ID', `label: node ${i.fromNodeId} already has an edge labelled "${i.label}" (${existing})`, {
      path: 'label',
      edgeId: existing,
    });
  }
  const edgeId = i.edgeId ?? ctx.newId();
  requireFreshId(state, state.edges.has(edgeId), edgeId, 'edgeId');
  return one(ev('EdgeRegistered', { edgeId, fromNodeId: i.fromNodeId, toNodeId: i.toNodeId, label: i.label, defaultMode: i.mode }), { edgeId });
}

export const graphCommands = {
  registerNode: command(RegisterNodeInput, decideRegisterNode),
  registerEdge: command(RegisterEdgeInput, decideRegisterEdge),
};
