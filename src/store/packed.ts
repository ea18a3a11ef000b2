/**
 * The packed encoding of JSON values: how the SQLite store keeps event data, event metadata and
 * projection values on disk (schema version 3). It is lossless for every JSON value (unpacking
 * what was packed gives what `JSON.parse(JSON.stringify(v))` gives) and about three times
 * smaller than JSON text for the values lineage-ledger writes:
 *
 * - an object whose keys are, in order, one of `PACKED_SHAPES` is its shape's index and its values;
 *   other object keys found in `PACKED_NAMES` are one or two bytes (others are written out);
 * - a lowercase UUID is 16 bytes, fewer when it begins with the same bytes as the UUID before it
 *   in the value (time-ordered ids of one run share their first bytes), a lowercase hex string of
 *   16 characters or more (a SHA-256
 *   digest) half its length, a timestamp in `Date.toISOString()` form that round-trips through
 *   a Date a varint of milliseconds;
 * - a string of 16 characters or more repeated inside one value is a back reference;
 * - a value equal to one of the caller's context values (for an event: its run id and its
 *   seq, which its stream already says) is a reference to it.
 *
 * Packing follows JSON.stringify's rules: `toJSON` is called, undefined, functions and symbols
 * are left out of objects and are null in arrays, non-finite numbers are null, a bigint is
 * refused. Values nested deeper than MAX_DEPTH levels (or circular) are refused.
 *
 * The format is part of the file format: a change to a tag, or to the order of PACKED_NAMES,
 * is a new SQLite schema version. PACKED_NAMES and PACKED_SHAPES only ever grow at their end (a
 * test keeps a digest of every prefix released).
 */

/** Names packed as their index: object keys (the most frequent first), then event types. Append only. */
export const PACKED_NAMES: readonly string[] = [
  'tokenId', 'stateId', 'recordedAt', 'seq', 'runId', 'schemaVersion', 'correlationId', 'causationId',
  'nodeId', 'durationMs', 'attempt', 'stepIndex', 'inputHash', 'contextBeforeJson', 'outputHash',
  'successReasonJson', 'contextAfterJson', 'status', 'errorJson', 'forkGroupId', 'joinGroupId', 'createdAt',
  'batchId', 'rowId', 'expandGroupId', 'ordinal', 'outcomeId', 'branchName', 'startedAt', 'completedAt',
  'stepInPipeline', 'contextJson', 'policy', 'parentTokenId', 'outcome', 'sinkName', 'errorHash',
  'expectedBranchesJson', 'merge_strategy', 'branches_arrived', 'edgeId', 'operationId', 'callId',
  'callIndex', 'callType', 'requestHash', 'requestRef', 'responseHash', 'responseRef', 'latencyMs', 'mode',
  'isTerminal', 'action', 'routingGroupId', 'reasonHash', 'reasonRef', 'condition', 'sourceNodeId',
  'rowIndex', 'sourceDataHash', 'sourceDataRef', 'quarantined', 'groupId', 'kind', 'parentTokenIds',
  'childTokenIds', 'result', 'route_label', 'routes', 'children', 'mergedTokenId', 'parents',
  'stateOutputHash', 'configHash', 'config', 'fromNodeId', 'toNodeId', 'label', 'defaultMode',
  'outputContractJson', 'pluginName', 'nodeType', 'pluginVersion', 'determinism', 'schemaHash', 'schemaMode',
  'schemaFields', 'sequenceInPipeline', 'inputContractJson', 'registeredAt', 'path', 'url',
  'reproducibilityGrade', 'artifactId', 'sinkNodeId', 'artifactType', 'pathOrUri', 'contentHash',
  'sizeBytes', 'idempotencyKey', 'outputDataHash', 'outputDataRef', 'errorMessage', 'operationType',
  'inputDataHash', 'inputDataRef', 'schemaContractJson', 'schemaContractHash', 'canonicalVersion',
  'sourceSchemaJson', 'pipeline', 'rows', 'branches', 'fork_to', 'merge', 'stateIds', 'settings',
  'sourceFieldResolutionJson', 'exportStatus', 'exportError', 'exportedAt', 'exportFormat', 'exportSink',
  'producedByStateId', 'producedByStateIds', 'aggregationNodeId', 'tokens', 'artifactIds',
  'retriedFromBatchId', 'members', 'triggerType', 'triggerReason', 'aggregationStateId', 'checkpointId',
  'sequenceNumber', 'aggregationStateJson', 'coalesceStateJson', 'upstreamTopologyHash',
  'checkpointNodeConfigHash', 'formatVersion', 'outcomeRecordedAt', 'error', 'format', 'sink', 'hashes',
  'purgedAt', 'results', 'resultId', 'resultType', 'name', 'resultJson', 'reason', 'resolutionId',
  'resolvedAt', 'envVarName', 'source', 'vaultUrl', 'secretName', 'fingerprint', 'resolutionLatencyMs',
  'resolutions', 'resolutionMapping', 'normalizationVersion', 'errorId', 'transformId', 'rowHash',
  'rowDataJson', 'errorDetailsJson', 'destination', 'violationType', 'originalFieldName',
  'normalizedFieldName', 'expectedType', 'actualType', 'ArtifactRegistered', 'BatchCreated',
  'BatchMemberAdded', 'BatchOutputsProduced', 'BatchRetried', 'BatchStatusChanged', 'CallRecorded',
  'CheckpointTaken', 'EdgeRegistered', 'ExportStatusChanged', 'NodeOutputContractUpdated', 'NodeRegistered',
  'NodeStateCompleted', 'NodeStateFailed', 'NodeStateOpened', 'NodeStatePending', 'OperationCompleted',
  'OperationStarted', 'PayloadsPurged', 'PreflightRecorded', 'RoutingDecided', 'RowCreated', 'RunCompleted',
  'RunContractLocked', 'RunStarted', 'RunStatusChanged', 'SecretsResolved', 'SourceFieldResolutionRecorded',
  'TokenCreated', 'TokenExpanded', 'TokenForked', 'TokenOutcomeRecorded', 'TokensCoalesced',
  'TransformErrorRecorded', 'ValidationErrorRecorded',
];

const NAME_INDEX = new Map(PACKED_NAMES.map((n, i) => [n, i]));

/** Key lists of the objects lineage-ledger writes most (event data and metadata, projection entries), most frequent first. Append only. */
export const PACKED_SHAPES: ReadonlyArray<readonly string[]> = [
  ['schemaVersion', 'runId', 'seq', 'recordedAt', 'correlationId', 'causationId'],
  ['stateId', 'tokenId', 'nodeId', 'stepIndex', 'attempt', 'inputHash', 'contextBeforeJson'],
  ['stateId', 'tokenId', 'nodeId', 'stepIndex', 'attempt', 'status', 'inputHash', 'outputHash', 'durationMs', 'startedAt', 'completedAt', 'contextBeforeJson', 'contextAfterJson', 'errorJson', 'successReasonJson'],
  ['stateId', 'outputHash', 'durationMs', 'successReasonJson', 'contextAfterJson'],
  ['policy', 'merge_strategy', 'branches_arrived'],
  ['tokenId', 'parentTokenId', 'ordinal'],
  ['tokenId', 'rowId', 'stepInPipeline', 'branchName', 'forkGroupId', 'joinGroupId', 'expandGroupId', 'batchId', 'createdAt'],
  ['outcomeId', 'tokenId', 'outcome', 'isTerminal', 'recordedAt', 'sinkName', 'batchId', 'forkGroupId', 'joinGroupId', 'expandGroupId', 'errorHash', 'contextJson', 'expectedBranchesJson'],
  ['groupId', 'kind', 'parentTokenIds', 'childTokenIds', 'seq'],
  ['callId', 'stateId', 'operationId', 'callIndex', 'callType', 'status', 'requestHash', 'requestRef', 'responseHash', 'responseRef', 'errorJson', 'latencyMs'],
  ['callId', 'stateId', 'operationId', 'callIndex', 'callType', 'status', 'requestHash', 'requestRef', 'responseHash', 'responseRef', 'errorJson', 'latencyMs', 'createdAt'],
  ['condition', 'result', 'route_label'],
  ['tokenId', 'branchName'],
  ['tokenId', 'outcomeId', 'stateId', 'durationMs'],
  ['outcomeId', 'tokenId', 'outcome', 'sinkName', 'errorHash', 'batchId', 'forkGroupId', 'joinGroupId', 'expandGroupId', 'expectedBranchesJson', 'contextJson'],
  ['outcomeId', 'tokenId', 'outcome', 'sinkName', 'errorHash', 'batchId', 'forkGroupId', 'joinGroupId', 'expandGroupId', 'expectedBranchesJson', 'contextJson', 'isTerminal', 'recordedAt'],
  ['stateId', 'routingGroupId', 'routes', 'reasonHash', 'reasonRef'],
  ['rowId', 'sourceNodeId', 'rowIndex', 'sourceDataHash', 'sourceDataRef', 'quarantined'],
  ['tokenId', 'rowId', 'branchName', 'stepInPipeline'],
  ['rowId', 'sourceNodeId', 'rowIndex', 'sourceDataHash', 'sourceDataRef', 'quarantined', 'createdAt'],
  ['parentTokenId', 'rowId', 'forkGroupId', 'stepInPipeline', 'children', 'outcomeId', 'contextJson'],
  ['mergedTokenId', 'rowId', 'joinGroupId', 'stepInPipeline', 'branchName', 'parents', 'stateOutputHash', 'contextJson'],
  ['batchId', 'tokenId', 'ordinal'],
  ['nodeId', 'pluginName', 'nodeType', 'pluginVersion', 'determinism', 'config', 'configHash', 'schemaHash', 'schemaMode', 'schemaFields', 'sequenceInPipeline', 'inputContractJson', 'outputContractJson'],
  ['edgeId', 'fromNodeId', 'toNodeId', 'label', 'defaultMode'],
  ['nodeId', 'pluginName', 'nodeType', 'pluginVersion', 'determinism', 'config', 'configHash', 'schemaHash', 'schemaMode', 'schemaFields', 'sequenceInPipeline', 'inputContractJson', 'outputContractJson', 'registeredAt'],
  ['edgeId', 'fromNodeId', 'toNodeId', 'label', 'defaultMode', 'createdAt'],
  ['batchId', 'status', 'triggerType', 'triggerReason', 'aggregationStateId'],
  ['stateId', 'outputHash', 'durationMs', 'errorJson', 'contextAfterJson'],
  ['policy', 'merge'],
  ['reason', 'error'],
  ['batchId', 'aggregationNodeId', 'attempt'],
  ['batchId', 'stepInPipeline', 'tokens', 'artifactIds'],
  ['tokenId', 'rowId'],
  ['parentTokenId', 'rowId', 'expandGroupId', 'stepInPipeline', 'children', 'outcomeId', 'contextJson'],
  ['checkpointId', 'tokenId', 'nodeId', 'sequenceNumber', 'aggregationStateJson', 'coalesceStateJson', 'upstreamTopologyHash', 'checkpointNodeConfigHash', 'formatVersion'],
  ['errorId', 'nodeId', 'rowIndex', 'rowHash', 'rowDataJson', 'error', 'schemaMode', 'destination', 'violationType', 'originalFieldName', 'normalizedFieldName', 'expectedType', 'actualType'],
  ['artifactId', 'sinkNodeId', 'stateIds', 'artifactType', 'pathOrUri', 'contentHash', 'sizeBytes', 'idempotencyKey'],
  ['batchId', 'aggregationNodeId', 'aggregationStateId', 'attempt', 'status', 'triggerType', 'triggerReason', 'retriedFromBatchId', 'createdAt', 'completedAt'],
  ['artifactId', 'sinkNodeId', 'producedByStateId', 'producedByStateIds', 'artifactType', 'pathOrUri', 'contentHash', 'sizeBytes', 'idempotencyKey', 'createdAt'],
  ['errorId', 'nodeId', 'rowIndex', 'rowHash', 'rowDataJson', 'error', 'schemaMode', 'destination', 'violationType', 'originalFieldName', 'normalizedFieldName', 'expectedType', 'actualType', 'createdAt'],
  ['checkpointId', 'tokenId', 'nodeId', 'sequenceNumber', 'aggregationStateJson', 'coalesceStateJson', 'upstreamTopologyHash', 'checkpointNodeConfigHash', 'formatVersion', 'createdAt'],
  ['operationId', 'nodeId', 'operationType', 'inputDataHash', 'inputDataRef'],
  ['operationId', 'status', 'outputDataHash', 'outputDataRef', 'errorMessage', 'durationMs'],
  ['operationId', 'nodeId', 'operationType', 'status', 'startedAt', 'completedAt', 'durationMs', 'errorMessage', 'inputDataRef', 'inputDataHash', 'outputDataRef', 'outputDataHash'],
  ['config', 'configHash', 'canonicalVersion', 'reproducibilityGrade', 'sourceSchemaJson', 'schemaContractJson', 'schemaContractHash'],
  ['errorId', 'tokenId', 'transformId', 'rowHash', 'rowDataJson', 'errorDetailsJson', 'destination'],
  ['status', 'reproducibilityGrade'],
  ['pipeline', 'rows', 'branches'],
  ['condition', 'fork_to'],
  ['runId', 'status', 'startedAt', 'completedAt', 'canonicalVersion', 'configHash', 'settings', 'reproducibilityGrade', 'sourceSchemaJson', 'sourceFieldResolutionJson', 'schemaContractJson', 'schemaContractHash', 'exportStatus', 'exportError', 'exportedAt', 'exportFormat', 'exportSink'],
  ['errorId', 'tokenId', 'transformId', 'rowHash', 'rowDataJson', 'errorDetailsJson', 'destination', 'createdAt'],
  ['resolutionId', 'resolvedAt', 'envVarName', 'source', 'vaultUrl', 'secretName', 'fingerprint', 'resolutionLatencyMs'],
  ['resultId', 'resultType', 'name', 'resultJson'],
  ['resolutionMapping', 'normalizationVersion'],
  ['schemaContractJson', 'schemaContractHash'],
  ['resultId', 'resultType', 'name', 'resultJson', 'createdAt'],
];

/** Shapes by their keys joined with SHAPE_SEPARATOR. */
const SHAPE_SEPARATOR = '\u0000';
const SHAPE_INDEX = new Map(PACKED_SHAPES.map((keys, i) => [keys.join(SHAPE_SEPARATOR), i]));

/** The index of a name in PACKED_NAMES, or undefined (the SQLite store keeps event types as these). */
export function packedNameIndex(name: string): number | undefined {
  return NAME_INDEX.get(name);
}

/** The name at an index of PACKED_NAMES, or undefined. */
export function packedName(index: number): string | undefined {
  return PACKED_NAMES[index];
}

export const MAX_DEPTH = 256;
/** The shortest string worth a back reference (and the shortest hex string packed as bytes). */
const LONG_STRING = 16;

const enum Tag {
  Null = 0,
  False = 1,
  True = 2,
  Uint = 3,
  NegInt = 4,
  Float = 5,
  Str = 6,
  Uuid = 7,
  Hex = 8,
  Time = 9,
  Arr = 10,
  Obj = 11,
  Backref = 12,
  Context = 13,
  /** A UUID that shares its first n bytes (3..15) with the UUID before it: n, then its last 16 - n bytes. */
  UuidNear = 14,
  /** An object of a known shape: the shape's index, then its values in the shape's order. */
  Shape = 15,
}

/** The fewest shared bytes worth a UuidNear (it costs one byte for n). */
const NEAR_MIN = 3;

const HEX = /^(?:[0-9a-f]{2})+$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A packed value that cannot be read (damaged bytes). */
export class PackedFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PackedFormatError';
  }
}

/** True when `s` is a lowercase canonical UUID (the form kept in 16 bytes). */
export function isPackableUuid(s: string): boolean {
  return uuidBytesInto(s, CHECK_SCRATCH);
}

const CHECK_SCRATCH = Buffer.alloc(16);



const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) NIBBLE[97 + i] = 10 + i;
/** Where each byte's two hex digits are in a UUID's text. */
const UUID_DIGITS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/** Writes the 16 bytes of `s` into `out` (from `at`) when it is a lowercase UUID; false (and `out` unspecified) when it is not. */
export function uuidBytesInto(s: string, out: Buffer, at = 0): boolean {
  if (s.length !== 36 || s.charCodeAt(8) !== 45 || s.charCodeAt(13) !== 45 || s.charCodeAt(18) !== 45 || s.charCodeAt(23) !== 45) return false;
  for (let i = 0; i < 16; i++) {
    const p = UUID_DIGITS[i]!;
    const hi = NIBBLE[s.charCodeAt(p)] ?? -1;
    const lo = NIBBLE[s.charCodeAt(p + 1)] ?? -1;
    if (hi < 0 || lo < 0) return false;
    out[at + i] = (hi << 4) | lo;
  }
  return true;
}

/** 16 bytes (from `at`) as a lowercase UUID. */
export function uuidText(b: Buffer, at = 0): string {
  // the 36 ASCII characters written into a scratch buffer and read as one flat string
  const out = UUID_SCRATCH;
  let o = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out[o++] = 45; // '-'
    const x = b[at + i]!;
    out[o++] = HEX_DIGITS[x >> 4]!;
    out[o++] = HEX_DIGITS[x & 15]!;
  }
  return out.toString('latin1', 0, 36);
}

const UUID_SCRATCH = Buffer.alloc(36);
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/** Writes into `out` the first context value that is a UUID (the reference of a value's first UuidNear); false when there is none. */
function startUuid(context: readonly unknown[], out: Buffer): boolean {
  for (const c of context) if (typeof c === 'string' && uuidBytesInto(c, out)) return true;
  return false;
}

/** A value as JSON.stringify sees it: what its toJSON returns, when it has one. */
function withToJSON(v: unknown, key: string): unknown {
  return v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function' ? (v as { toJSON(k: string): unknown }).toJSON(key) : v;
}

/** What JSON.stringify writes as an object member. */
function present(x: unknown): boolean {
  const t = typeof x;
  return t !== 'undefined' && t !== 'function' && t !== 'symbol';
}

class PackWriter {
  buf = Buffer.allocUnsafe(4096);
  at = 0;
  /** Packing a value now (a toJSON that packs is given a writer of its own). */
  busy = false;
  private readonly strings = new Map<string, number>();
  private context: readonly unknown[] = [];
  /** The last UUID written (its 16 bytes), the reference of the next UuidNear; meaningful when `hasLast`. */
  private readonly last = Buffer.alloc(16);
  private hasLast = false;
  private readonly uuid = Buffer.allocUnsafe(16);

  /** Starts a value. */
  reset(context: readonly unknown[]): void {
    this.at = 0;
    this.strings.clear();
    this.context = context;
    this.hasLast = startUuid(context, this.last);
  }

  /** Writes `s` when it is a lowercase UUID (false when it is not). */
  private writeUuid(s: string): boolean {
    const u = this.uuid;
    if (!uuidBytesInto(s, u)) return false;
    let n = 0;
    const last = this.last;
    if (this.hasLast) while (n < 15 && u[n] === last[n]) n++;
    this.room(18);
    if (n >= NEAR_MIN) {
      this.buf[this.at++] = Tag.UuidNear;
      this.buf[this.at++] = n;
      this.at += u.copy(this.buf, this.at, n, 16);
    } else {
      this.buf[this.at++] = Tag.Uuid;
      this.at += u.copy(this.buf, this.at, 0, 16);
    }
    u.copy(last);
    this.hasLast = true;
    return true;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  private byte(b: number): void {
    this.room(1);
    this.buf[this.at++] = b;
  }

  private varint(n: number): void {
    this.room(8);
    while (n >= 0x80) {
      this.buf[this.at++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.at++] = n;
  }

  private utf8(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.room(n);
    this.at += this.buf.write(s, this.at, n, 'utf8');
  }

  private contextRef(v: unknown): boolean {
    const c = this.context;
    for (let i = 0; i < c.length; i++) {
      if (c[i] === v) {
        this.byte(Tag.Context);
        this.varint(i);
        return true;
      }
    }
    return false;
  }

  private string(s: string): void {
    if (this.context.length > 0 && this.contextRef(s)) return;
    if (s.length >= LONG_STRING) {
      const seen = this.strings.get(s);
      if (seen !== undefined) {
        this.byte(Tag.Backref);
        this.varint(seen);
        return;
      }
      this.strings.set(s, this.strings.size);
    }
    if (s.length === 36 && this.writeUuid(s)) return;
    if (s.length >= LONG_STRING && HEX.test(s)) {
      this.byte(Tag.Hex);
      this.varint(s.length / 2);
      this.room(s.length / 2);
      this.at += this.buf.write(s, this.at, s.length / 2, 'hex');
      return;
    }
    if (s.length === 24 && ISO.test(s)) {
      const ms = Date.parse(s);
      if (Number.isFinite(ms) && new Date(ms).toISOString() === s) {
        this.byte(Tag.Time);
        this.varint(ms >= 0 ? ms * 2 : -ms * 2 - 1);
        return;
      }
    }
    this.byte(Tag.Str);
    this.utf8(s);
  }

  private number(n: number): void {
    if (!Number.isFinite(n)) return this.byte(Tag.Null);
    if (this.context.length > 0 && this.contextRef(n)) return;
    if (Number.isSafeInteger(n)) {
      this.byte(n >= 0 ? Tag.Uint : Tag.NegInt);
      this.varint(Math.abs(n));
      return;
    }
    this.byte(Tag.Float);
    this.room(8);
    this.at = this.buf.writeDoubleLE(n, this.at);
  }

  /** Writes a value as JSON.stringify sees it; false when it is left out (undefined, a function, a symbol). */
  value(v: unknown, key: string, depth: number, resolved = false): boolean {
    if (!resolved) v = withToJSON(v, key);
    switch (typeof v) {
      case 'string':
        this.string(v);
        return true;
      case 'number':
        this.number(v);
        return true;
      case 'boolean':
        this.byte(v ? Tag.True : Tag.False);
        return true;
      case 'bigint':
        throw new TypeError('a BigInt cannot be written as JSON');
      case 'object':
        break;
      default:
        return false;
    }
    if (v === null) {
      this.byte(Tag.Null);
      return true;
    }
    if (depth >= MAX_DEPTH) throw new TypeError(`a value nested deeper than ${MAX_DEPTH} levels (or circular) cannot be written`);
    if (v instanceof Number || v instanceof String || v instanceof Boolean) return this.value(v.valueOf(), key, depth, true);
    if (Array.isArray(v)) {
      this.byte(Tag.Arr);
      this.varint(v.length);
      for (let i = 0; i < v.length; i++) if (!this.value(v[i], String(i), depth + 1)) this.byte(Tag.Null);
      return true;
    }
    // the members JSON.stringify writes: each value after its toJSON, then without undefined, functions and symbols
    const o = v as Record<string, unknown>;
    const all = Object.keys(o);
    const keys: string[] = [];
    const values: unknown[] = [];
    for (const k of all) {
      const x = withToJSON(o[k], k);
      if (!present(x)) continue;
      keys.push(k);
      values.push(x);
    }
    const shape = SHAPE_INDEX.get(keys.join(SHAPE_SEPARATOR));
    if (shape !== undefined) {
      this.byte(Tag.Shape);
      this.varint(shape);
      for (let j = 0; j < keys.length; j++) this.value(values[j], keys[j]!, depth + 1, true);
      return true;
    }
    this.byte(Tag.Obj);
    this.varint(keys.length);
    for (let j = 0; j < keys.length; j++) {
      const k = keys[j]!;
      const i = NAME_INDEX.get(k);
      if (i !== undefined) this.varint(i + 1);
      else {
        this.byte(0);
        this.utf8(k);
      }
      this.value(values[j], k, depth + 1, true);
    }
    return true;
  }
}

/**
 * Packs a JSON value. `context` lists values the reader passes to `unpack` too: equal values are
 * written as references to them. Throws a TypeError for what JSON.stringify refuses, or leaves
 * out at the top level.
 */
export function pack(value: unknown, context: readonly unknown[] = []): Buffer {
  const w = shared.busy ? new PackWriter() : shared;
  w.reset(context);
  w.busy = true;
  try {
    if (!w.value(value, '', 0)) throw new TypeError('the value is not JSON (undefined, a function or a symbol)');
    const out = Buffer.allocUnsafe(w.at);
    w.buf.copy(out, 0, 0, w.at);
    return out;
  } finally {
    w.busy = false;
    // a writer grown by one huge value does not keep its memory
    if (w.buf.length > 1 << 20) w.buf = Buffer.allocUnsafe(4096);
  }
}

const shared = new PackWriter();

class PackReader {
  at = 0;
  busy = false;
  private buf: Buffer = Buffer.alloc(0);
  private context: readonly unknown[] = [];
  private readonly strings: string[] = [];
  /** The last UUID read (its 16 bytes), the reference of the next UuidNear; meaningful when `hasLast`. */
  private readonly last = Buffer.alloc(16);
  private hasLast = false;

  /** Starts a value. */
  reset(buf: Buffer, context: readonly unknown[]): void {
    this.buf = buf;
    this.context = context;
    this.at = 0;
    this.strings.length = 0;
    this.hasLast = startUuid(context, this.last);
  }

  /** Lets go of the value read (a reader kept between values holds no buffer). */
  release(): void {
    this.buf = EMPTY;
    this.context = [];
    this.strings.length = 0;
  }

  fail(why: string): never {
    throw new PackedFormatError(`packed value damaged at byte ${this.at}: ${why}`);
  }

  private need(n: number): void {
    if (this.at + n > this.buf.length) this.fail('it ends too soon');
  }

  private varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      this.need(1);
      const b = this.buf[this.at++]!;
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
    }
    return this.fail('a number is too long');
  }

  private utf8(): string {
    const n = this.varint();
    this.need(n);
    const s = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }

  private remember(s: string): string {
    if (s.length >= LONG_STRING) this.strings.push(s);
    return s;
  }

  value(depth: number): unknown {
    this.need(1);
    const tag = this.buf[this.at++]!;
    switch (tag) {
      case Tag.Null:
        return null;
      case Tag.False:
        return false;
      case Tag.True:
        return true;
      case Tag.Uint:
        return this.varint();
      case Tag.NegInt:
        return -this.varint();
      case Tag.Float: {
        this.need(8);
        const f = this.buf.readDoubleLE(this.at);
        this.at += 8;
        return f;
      }
      case Tag.Str:
        return this.remember(this.utf8());
      case Tag.Uuid: {
        this.need(16);
        const s = uuidText(this.buf, this.at);
        this.buf.copy(this.last, 0, this.at, this.at + 16);
        this.hasLast = true;
        this.at += 16;
        return this.remember(s);
      }
      case Tag.UuidNear: {
        this.need(1);
        const n = this.buf[this.at++]!;
        const last = this.last;
        if (!this.hasLast || n < NEAR_MIN || n > 15) this.fail(!this.hasLast ? 'a UUID refers to a UUID before it, and there is none' : `a UUID shares ${n} bytes`);
        this.need(16 - n);
        this.buf.copy(last, n, this.at, this.at + 16 - n);
        this.at += 16 - n;
        return this.remember(uuidText(last));
      }
      case Tag.Hex: {
        const n = this.varint();
        this.need(n);
        const s = this.buf.toString('hex', this.at, this.at + n);
        this.at += n;
        return this.remember(s);
      }
      case Tag.Time: {
        const z = this.varint();
        const d = new Date(z % 2 === 0 ? z / 2 : -(z + 1) / 2);
        if (Number.isNaN(d.getTime())) this.fail('a timestamp is out of range');
        return this.remember(d.toISOString());
      }
      case Tag.Backref: {
        const i = this.varint();
        return this.strings[i] ?? this.fail(`a back reference (${i}) to a string not read yet`);
      }
      case Tag.Context: {
        const i = this.varint();
        if (i >= this.context.length) this.fail(`a reference to context value ${i} of ${this.context.length}`);
        return this.context[i];
      }
      case Tag.Arr: {
        if (depth >= MAX_DEPTH) this.fail('nested too deep');
        const n = this.varint();
        if (n > this.buf.length - this.at) this.fail('an array longer than the value');
        const a = new Array<unknown>(n);
        for (let i = 0; i < n; i++) a[i] = this.value(depth + 1);
        return a;
      }
      case Tag.Obj: {
        if (depth >= MAX_DEPTH) this.fail('nested too deep');
        const n = this.varint();
        if (n > this.buf.length - this.at) this.fail('an object larger than the value');
        const o: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = this.varint();
          const key = k === 0 ? this.utf8() : (PACKED_NAMES[k - 1] ?? this.fail(`an unknown name index ${k - 1}`));
          const v = this.value(depth + 1);
          // as JSON.parse does: "__proto__" is an own property, not the prototype
          if (key === '__proto__') Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
          else o[key] = v;
        }
        return o;
      }
      case Tag.Shape: {
        if (depth >= MAX_DEPTH) this.fail('nested too deep');
        const i = this.varint();
        const keys = PACKED_SHAPES[i] ?? this.fail(`an unknown shape index ${i}`);
        const o: Record<string, unknown> = {};
        for (const key of keys) o[key] = this.value(depth + 1);
        return o;
      }
      default:
        return this.fail(`unknown tag ${tag}`);
    }
  }
}

/** Reads a packed value (pass the `context` it was packed with). Throws PackedFormatError when the bytes are damaged. */
export function unpack(bytes: Uint8Array, context: readonly unknown[] = []): unknown {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = sharedReader.busy ? new PackReader() : sharedReader;
  r.reset(buf, context);
  r.busy = true;
  try {
    const v = r.value(0);
    if (r.at !== buf.length) r.fail(`${buf.length - r.at} bytes after the value`);
    return v;
  } finally {
    r.busy = false;
    r.release();
  }
}

const EMPTY = Buffer.alloc(0);
const sharedReader = new PackReader();
