/** `lineage-ledger ingest`: JSON Lines of commands through the recorder checks; stops at the first bad line with its number, code and path. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openLedger } from '../../src/ledger';
import { runStreamId } from '../../src/events/envelope';
import { makeTempDir, removeDir } from '../store/sqlite/helpers';
import { cli } from './support';

const uuid = (n: number) => `0190a1b2-c3d4-7e5f-8a9b-${String(n).padStart(12, '0')}`;
let dir: string;
beforeEach(() => (dir = makeTempDir('ll-ingest-')));
afterEach(() => removeDir(dir));

function lines(...objects: unknown[]): string {
  return objects.map((o) => (typeof o === 'string' ? o : JSON.stringify(o))).join('\n') + '\n';
}

test('a run from JSON Lines, then a bad line: reported with its number, code and path; the lines before it stay, nothing of it or after', async () => {
  const store = `sqlite:${path.join(dir, 'i.db')}`;
  const runId = uuid(1);
  const src = uuid(2);
  const file = path.join(dir, 'in.jsonl');
  fs.writeFileSync(
    file,
    lines(
      { runId, op: 'beginRun', input: { config: { p: 1 } } },
      { runId, op: 'registerNode', input: { nodeId: src, pluginName: 's', nodeType: 'source', pluginVersion: '1', config: {} } },
      { runId, op: 'createRow', input: { sourceNodeId: src, rowIndex: 0, data: {}, withToken: true } },
      { runId, op: 'createRow', input: { sourceNodeId: src, rowIndex: 'one', data: {} } },
      { runId, op: 'createRow', input: { sourceNodeId: src, rowIndex: 2, data: {} } },
    ),
  );
  const r = await cli('ingest', file, '--store', store, '--json');
  expect(r.code).toBe(1);
  // the report, and the error of every failed --json command
  expect(JSON.parse(r.out)).toEqual({
    applied: 3,
    runs: [runId],
    failed: { line: 4, code: 'INVALID_INPUT', path: 'rowIndex', message: expect.any(String) },
    error: { code: 'INVALID_INPUT', message: expect.stringMatching(/^line 4 \(rowIndex\): /), details: { line: 4, path: 'rowIndex' } },
  });
  expect(r.err).toContain('line 4 (rowIndex)');
  const ledger = await openLedger({ store });
  const before = await ledger.store.streamRevision(runStreamId(runId));
  expect([...(await ledger.loadRun(runId)).rowByIndex.keys()]).toEqual([0]);
  await ledger.close();
  // a failed ingest of the bad line alone appends nothing
  fs.writeFileSync(file, lines({ runId, op: 'createRow', input: { sourceNodeId: src, rowIndex: -5, data: {} } }));
  expect((await cli('ingest', file, '--store', store)).code).toBe(1);
  const again = await openLedger({ store });
  expect(await again.store.streamRevision(runStreamId(runId))).toBe(before);
  await again.close();

  // the rest, fixed, continues the run
  fs.writeFileSync(file, lines({ runId, op: 'createRow', input: { sourceNodeId: src, rowIndex: 1, data: {} } }, '', { runId, op: 'createRow', input: { sourceNodeId: src, rowIndex: 2, data: {} } }));
  const ok = await cli('ingest', file, '--store', store, '--json');
  expect(ok.code).toBe(0);
  expect(JSON.parse(ok.out)).toEqual({ applied: 3, runs: [runId] });
});

test('not JSON, an unknown op, a line without its run: each stops the ingest with a typed error', async () => {
  const store = `sqlite:${path.join(dir, 'j.db')}`;
  const file = path.join(dir, 'bad.jsonl');
  for (const [bad, code, line] of [
    ['{"runId": ', 'INVALID_INPUT', 1],
    [JSON.stringify({ runId: uuid(5), op: 'dropEverything', input: {} }), 'INVALID_INPUT', 1],
    [JSON.stringify({ op: 'createRow', input: {} }), 'INVALID_INPUT', 1],
    [JSON.stringify({ runId: uuid(6), op: 'createRow', input: { sourceNodeId: uuid(7), rowIndex: 0, data: {} } }), 'RUN_NOT_FOUND', 1],
  ] as const) {
    fs.writeFileSync(file, `${bad}\n`);
    const r = await cli('ingest', file, '--store', store, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).failed).toMatchObject({ line, code });
  }
  expect((await cli('ingest', path.join(dir, 'missing.jsonl'), '--store', store)).code).toBe(1);
});
