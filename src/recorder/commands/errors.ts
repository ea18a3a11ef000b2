/**
 * Error commands: rows a source rejected (validation errors) and rows a transform could not
 * process (transform errors). Their data is external and may not be canonical JSON.
 */
import * as t from 'io-ts';
import { SchemaMode, ViolationType } from '../../events/catalogue';
import { Id, NonEmptyString, NonNegativeInt, Str, struct } from '../../events/codecs';
import type { RunState } from '../../projections/state';
import { command, DecideContext, Decision, ev, one } from './command';
import { requireNode, requireRunning, requireToken } from './guards';
import { asJsonOrTagged, tier3Hash } from './hashing';

export const RecordValidationErrorInput = struct(
  'RecordValidationErrorInput',
  { rowData: t.unknown, error: NonEmptyString, schemaMode: SchemaMode, destination: NonEmptyString },
  {
    nodeId: Id,
    rowIndex: NonNegativeInt,
    violation: struct(
      'ContractViolation',
      { violationType: ViolationType },
      { originalFieldName: Str, normalizedFieldName: Str, expectedType: Str, actualType: Str },
    ),
  },
);

export const RecordTransformErrorInput = struct(
  'RecordTransformErrorInput',
  { tokenId: Id, transformId: Id, rowData: t.unknown, errorDetails: t.unknown, destination: NonEmptyString },
  {},
);

export type RecordValidationErrorInput = t.TypeOf<typeof RecordValidationErrorInput>;
export type RecordTransformErrorInput = t.TypeOf<typeof RecordTransformErrorInput>;

function decideRecordValidationError(state: RunState, i: RecordValidationErrorInput, ctx: DecideContext): Decision<{ errorId: string; rowHash: string }> {
  requireRunning(state);
  if (i.nodeId !== undefined) requireNode(state, i.nodeId, 'nodeId');
  const errorId = ctx.newId();
  const rowHash = tier3Hash(i.rowData);
  const v = i.violation;
  return one(
    ev('ValidationErrorRecorded', {
      errorId,
      nodeId: i.nodeId ?? null,
      rowIndex: i.rowIndex ?? null,
      rowHash,
      rowDataJson: asJsonOrTagged(i.rowData),
      error: i.error,
      schemaMode: i.schemaMode,
      destination: i.destination,
      violationType: v?.violationType ?? null,
      originalFieldName: v?.originalFieldName ?? null,
      normalizedFieldName: v?.normalizedFieldName ?? null,
      expectedType: v?.expectedType ?? null,
      actualType: v?.actualType ?? null,
    }),
    { errorId, rowHash },
  );
}

function decideRecordTransformError(state: RunState, i: RecordTransformErrorInput, ctx: DecideContext): Decision<{ errorId: string; rowHash: string }> {
  requireRunning(state);
  requireToken(state, i.tokenId, 'tokenId');
  requireNode(state, i.transformId, 'transformId');
  const errorId = ctx.newId();
  const rowHash = tier3Hash(i.rowData);
  return one(
    ev('TransformErrorRecorded', {
      errorId,
      tokenId: i.tokenId,
      transformId: i.transformId,
      rowHash,
      rowDataJson: asJsonOrTagged(i.rowData),
      errorDetailsJson: asJsonOrTagged(i.errorDetails),
      destination: i.destination,
    }),
    { errorId, rowHash },
  );
}

export const errorCommands = {
  recordValidationError: command(RecordValidationErrorInput, decideRecordValidationError),
  recordTransformError: command(RecordTransformErrorInput, decideRecordTransformError),
};
