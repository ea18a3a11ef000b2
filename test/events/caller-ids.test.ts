/**
 * Caller-chosen ids: one rule for every entity id (1-64 characters from A-Za-z0-9_.:-,
 * starting with a letter or digit), generated ids stay UUIDv7, a run recorded with
 * ELSPETH-style ids checks clean, and a caller id given twice is DUPLICATE_ID, also
 * once the projection has been written to the store's tables.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isLedgerError, openLedger } from '../../src';
import type { Ledger, RunHandle } from '../../src';
import { decodeOrThrow, Id, isId, isUuid } from '../../src/events/codecs';
import { uuidv7 } from '../../src/events/ids';
import { checkRun } from '../../src/lineage/check';
import { MemoryEventStore } from '../../src/store/memory';

const hex32 = (n: number): string => n.toString(16).padStart(32, '0');

describe('the Id rule', () => {
  test.each([
    'src',
    'x',
    '0',
    'transform_upper_3f2a9c1b7d4e',
    '6e7a82ed59a94f02ba49e9ad3065acf3',
    'verr_751d0586c878',
    'out_02bf3ffba302',
    `cp-${hex32(7)}`,
    `call_op_${hex32(1)}_0`,
    'Node.A:b-c_d',
    'a'.repeat(64),
  ])('accepts %s', (id) => {
    expect(isId(id)).toBe(true);
    expect(Id.is(id)).toBe(true);
  });

  test('accepts generated UUIDv7s', () => {
    for (let i = 0; i < 100; i++) expect(Id.is(uuidv7())).toBe(true);
  });

  test.each([
    ['65 characters', 'a'.repeat(65)],
    ['a slash', 'a/b'],
    ['a space', 'a b'],
    ['a leading dash', '-abc'],
    ['a leading underscore', '_abc'],
    ['unicode', 'zoë'],
    ['a non-ASCII digit', '٣'],
    ['a NUL', 'a\u0000b'],
    ['a newline', 'a\n'],
    ['empty', ''],
  ])('rejects %s with INVALID_INPUT, the path and without the value', (_what, id) => {
    expect(Id.is(id)).toBe(false);
    let caught: unknown;
    try {
      decodeOrThrow(Id, id, 'test id');
    } catch (e) {
      caught = e;
    }
    expect(isLedgerError(caught, 'INVALID_INPUT')).toBe(true);
    const message = (caught as Error).message;
    expect(message).toContain('an id (1-64 characters');
    if (id.length > 2) expect(message).not.toContain(id);
  });

  test('rejects what is not a string', () => {
    for (const v of [1, null, undefined, {}, ['a']]) expect(Id.is(v)).toBe(false);
  });

  test('isUuid still means a lowercase UUID (event ids)', () => {
    expect(isUuid(uuidv7())).toBe(true);
    expect(isUuid('src')).toBe(false);
    expect(isUuid(hex32(1))).toBe(false);
  });
});

/** A small run with ELSPETH's kinds of ids: caller node ids, 32-hex row/token/state ids, prefixed outcome ids. */
async function recordElspethStyleRun(ledger: Ledger, runId: string): Promise<RunHandle> {
  const run = await ledger.beginRun({ config: { pipeline: 'caller-ids' }, runId });
  const node = async (nodeId: string, nodeType: 'source' | 'transform' | 'sink'): Promise<void> => {
    await run.registerNode({ nodeId, pluginName: nodeType, nodeType, pluginVersion: '1', config: { nodeId } });
  };
  await node('src', 'source');
  await node('transform_upper_3f2a9c1b7d4e', 'transform');
  await node('out', 'sink');
  await run.registerEdge({ edgeId: hex32(0xe1), fromNodeId: 'src', toNodeId: 'transform_upper_3f2a9c1b7d4e', label: 'continue', mode: 'move' });
  await run.registerEdge({ edgeId: hex32(0xe2), fromNodeId: 'transform_upper_3f2a9c1b7d4e', toNodeId: 'out', label: 'continue', mode: 'move' });
  for (let i = 0; i < 3; i++) {
    const rowId = hex32(0x100 + i);
    await run.createRow({ rowId, sourceNodeId: 'src', rowIndex: i, data: { i } });
    const tokenId = hex32(0x200 + i);
    await run.createToken({ rowId, tokenId });
    let step = 0;
    for (const nodeId of ['src', 'transform_upper_3f2a9c1b7d4e', 'out']) {
      const stateId = hex32(0x300 + i * 10 + step);
      await run.beginNodeState({ stateId, tokenId, nodeId, stepIndex: step, inputData: { i } });
      await run.completeNodeState({ stateId, status: 'completed', durationMs: 1.5, outputData: { i } });
      step++;
    }
    await run.recordTokenOutcome({ tokenId, outcome: 'completed', sinkName: 'out' });
  }
  return run;
}

describe('a run recorded with caller-chosen ids', () => {
  test('keeps the ids and checks clean', async () => {
    const ledger = await openLedger({ store: new MemoryEventStore() });
    try {
      const runId = '6e7a82ed59a94f02ba49e9ad3065acf3';
      const run = await recordElspethStyleRun(ledger, runId);
      await run.complete({ status: 'completed' });
      const state = await ledger.loadRun(runId);
      expect([...state.nodes.keys()]).toEqual(['src', 'transform_upper_3f2a9c1b7d4e', 'out']);
      expect(state.tokens.has(hex32(0x201))).toBe(true);
      expect(state.anomalies).toEqual([]);
      const result = checkRun(state);
      expect(result.violations).toEqual([]);
      expect(result.ok).toBe(true);
    } finally {
      await ledger.close();
    }
  });

  test('a generated id is a UUIDv7', async () => {
    const ledger = await openLedger({ store: new MemoryEventStore() });
    try {
      const run = await ledger.beginRun({ config: {} });
      const { nodeId } = await run.registerNode({ pluginName: 's', nodeType: 'source', pluginVersion: '1', config: {} });
      expect(nodeId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(run.runId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    } finally {
      await ledger.close();
    }
  });

  test.each(['memory', 'sqlite'])('a duplicate caller id is DUPLICATE_ID and appends nothing (%s)', async (kind) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-ids-'));
    const ledger = await openLedger({ store: kind === 'memory' ? new MemoryEventStore() : `sqlite:${path.join(dir, 'ledger.db')}` });
    try {
      const runId = 'run_caller_1';
      const run = await recordElspethStyleRun(ledger, runId);
      // the projection's tables now hold the entities (the fresh-id shortcut must not hide them)
      run.flushProjection();
      const expectDuplicate = async (f: () => Promise<unknown>, pathName: string): Promise<void> => {
        const before = run.revision;
        let caught: unknown;
        try {
          await f();
        } catch (e) {
          caught = e;
        }
        expect(isLedgerError(caught, 'DUPLICATE_ID')).toBe(true);
        expect((caught as { details: { path: string } }).details.path).toBe(pathName);
        expect(run.revision).toBe(before);
      };
      await expectDuplicate(() => run.registerNode({ nodeId: 'src', pluginName: 's', nodeType: 'source', pluginVersion: '1', config: {} }), 'nodeId');
      await expectDuplicate(() => run.createRow({ rowId: hex32(0x101), sourceNodeId: 'src', rowIndex: 9, data: {} }), 'rowId');
      await expectDuplicate(() => run.createToken({ rowId: hex32(0x101), tokenId: hex32(0x202) }), 'tokenId');
      await run.createToken({ rowId: hex32(0x101), tokenId: 'extra_token' });
      await expectDuplicate(() => run.beginNodeState({ stateId: hex32(0x300), tokenId: 'extra_token', nodeId: 'out', stepIndex: 5, inputData: {} }), 'stateId');
      await expect(ledger.beginRun({ config: {}, runId })).rejects.toMatchObject({ code: 'DUPLICATE_ID' });
      // a new ledger over the same file still sees the ids
      if (kind === 'sqlite') {
        await ledger.close();
        const again = await openLedger({ store: `sqlite:${path.join(dir, 'ledger.db')}` });
        try {
          const handle = await again.openRun(runId);
          await expect(handle.createToken({ rowId: hex32(0x101), tokenId: hex32(0x200) })).rejects.toMatchObject({ code: 'DUPLICATE_ID' });
        } finally {
          await again.close();
        }
      }
    } finally {
      await ledger.close().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
