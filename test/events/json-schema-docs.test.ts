/**
 * The worked example of docs/event-format.md: every JSON event in it validates against
 * the published schema, decodes in the library, folds without anomalies, and carries
 * the hashes the text states.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { stableHash } from '../../src/canonical/hash';
import { LedgerEvent, runStreamId } from '../../src/events/envelope';
import { decodeStoredEvent } from '../../src/store/events';
import { EVENT_SCHEMA_PATH } from '../../src/events/json-schema';
import { evolve } from '../../src/projections/evolve';
import { emptyRunState } from '../../src/projections/state';

const ROOT = path.resolve(__dirname, '../..');
const doc = fs.readFileSync(path.join(ROOT, 'docs/event-format.md'), 'utf8');
const examples = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as { eventId: string; type: string; data: Record<string, unknown>; metadata: Record<string, unknown> });

test('the worked example validates against the published schema, decodes and folds cleanly', () => {
  expect(examples.map((e) => e.type)).toEqual(['RunStarted', 'NodeRegistered', 'RowCreated', 'TokenCreated']);
  const schema = JSON.parse(fs.readFileSync(path.join(ROOT, EVENT_SCHEMA_PATH), 'utf8')) as object;
  const validate = new Ajv2020({ strict: true, allErrors: true }).compile(schema);
  const runId = examples[0]!.metadata.runId as string;
  const decoded: LedgerEvent[] = examples.map((e, revision) => {
    expect({ type: e.type, valid: validate(e), errors: validate.errors ?? null }).toEqual({ type: e.type, valid: true, errors: null });
    return decodeStoredEvent({ streamId: runStreamId(runId), revision, position: BigInt(revision + 1), ...e });
  });
  const state = emptyRunState(runId);
  for (const e of decoded) evolve(state, e);
  expect(state.anomalies).toEqual([]);
  expect(state.version).toBe(3);
  expect(state.tokensByRow.get(examples[2]!.data.rowId as string)).toEqual([examples[3]!.data.tokenId]);
});

test('the hashes in the worked example are SHA-256 of RFC 8785 canonical JSON, as the text says', () => {
  const [run, node, row] = examples;
  expect(run!.data.configHash).toBe(stableHash(run!.data.config));
  expect(node!.data.configHash).toBe(stableHash(node!.data.config));
  expect(row!.data.sourceDataHash).toBe(stableHash({ order_id: 'ORD-1', amount: 12.5 }));
  expect(doc).toContain('`{"amount":12.5,"order_id":"ORD-1"}`');
  expect(doc).toContain('`{"pipeline":"orders","source":{"path":"orders.csv"}}`');
});
