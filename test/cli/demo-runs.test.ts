/**
 * The main job from the command line (issue acceptance): `demo` prints a run id, `runs`
 * lists it, `export --run latest --out -` prints records in which every token created by a
 * fork, an expansion, a coalesce or a batch carries its group id; failures are one line and
 * exit 1; LINEAGE_LEDGER_STORE selects the store.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openLedger } from '../../src/ledger';
import { cli } from './support';

let dir: string;
let store: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-cli-demo-'));
  store = `sqlite:${path.join(dir, 'demo.db')}`;
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('demo prints a run id; runs lists it; export carries every group id', async () => {
  const demo = await cli('demo', '--store', store);
  expect(demo.code).toBe(0);
  const runId = demo.out.trim();
  expect(runId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(demo.err).toContain('quarantined');

  const runs = await cli('runs', '--store', store, '--json');
  expect(JSON.parse(runs.out)).toEqual([expect.objectContaining({ runId, status: 'completed' })]);
  expect((await cli('runs', '--store', store)).out).toContain(runId);

  const exp = await cli('export', '--store', store, '--run', 'latest', '--out', '-');
  expect(exp.code).toBe(0);
  const lines = exp.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines[lines.length - 1]!.record_type).toBe('manifest');
  const records = lines.slice(0, -1);
  const tokens = records.filter((r) => r.record_type === 'token');
  const parentsOf = new Map<string, number>();
  for (const p of records.filter((r) => r.record_type === 'token_parent')) parentsOf.set(p.token_id as string, (parentsOf.get(p.token_id as string) ?? 0) + 1);
  const derived = tokens.filter((t) => parentsOf.has(t.token_id as string));
  expect(derived.length).toBeGreaterThan(0);
  for (const t of derived) {
    const groups = [t.fork_group_id, t.join_group_id, t.expand_group_id, t.batch_id].filter((g) => g !== null);
    expect(groups).toHaveLength(1);
  }
  for (const kind of ['fork_group_id', 'join_group_id', 'expand_group_id', 'batch_id']) expect(derived.some((t) => t[kind] !== null)).toBe(true);
  // tokens without parents carry no group id
  for (const t of tokens.filter((x) => !parentsOf.has(x.token_id as string))) {
    expect([t.fork_group_id, t.join_group_id, t.expand_group_id, t.batch_id]).toEqual([null, null, null, null]);
  }
});

test('LINEAGE_LEDGER_STORE selects the store when --store is not given', async () => {
  const before = process.env.LINEAGE_LEDGER_STORE;
  process.env.LINEAGE_LEDGER_STORE = store;
  try {
    const demo = await cli('demo', '--rows', '5');
    expect(demo.code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'demo.db'))).toBe(true);
    expect((await cli('runs', '--json')).out).toContain(demo.out.trim());
  } finally {
    if (before === undefined) delete process.env.LINEAGE_LEDGER_STORE;
    else process.env.LINEAGE_LEDGER_STORE = before;
  }
});

test('failures are one line on stderr with the error code, exit 1, and leave no partial output; bad usage exits 2', async () => {
  const badUrl = await cli('runs', '--store', 'mysql://nowhere/db');
  expect(badUrl.code).toBe(1);
  expect(badUrl.err.trim().split('\n')).toHaveLength(1);
  expect(badUrl.err).toContain('UNSUPPORTED_STORE_URL');

  // the store file does not exist: a reading verb says so and creates nothing
  const noStore = await cli('export', '--store', store, '--run', 'latest', '--out', path.join(dir, 'out.jsonl'));
  expect(noStore.code).toBe(1);
  expect(noStore.err).toMatch(/^lineage-ledger export: NOT_FOUND: /);
  expect(fs.existsSync(path.join(dir, 'out.jsonl'))).toBe(false);
  expect(fs.existsSync(store.replace(/^sqlite:/, ''))).toBe(false);

  // an empty store: no run to export
  await (await openLedger({ store })).close();
  const noRun = await cli('export', '--store', store, '--run', 'latest', '--out', path.join(dir, 'out.jsonl'));
  expect(noRun.code).toBe(1);
  expect(noRun.err).toMatch(/^lineage-ledger export: RUN_NOT_FOUND: /);
  expect(fs.existsSync(path.join(dir, 'out.jsonl'))).toBe(false);

  fs.writeFileSync(path.join(dir, 'not-a-ledger.db'), 'just some text, not SQLite at all\n');
  const notLedger = await cli('runs', '--store', `sqlite:${path.join(dir, 'not-a-ledger.db')}`);
  expect(notLedger.code).toBe(1);
  expect(notLedger.err).toContain('NOT_A_LEDGER');
  expect(fs.readFileSync(path.join(dir, 'not-a-ledger.db'), 'utf8')).toBe('just some text, not SQLite at all\n');

  // a bad option value is a usage error
  const badRows = await cli('demo', '--store', store, '--rows', 'many');
  expect(badRows.code).toBe(2);
  expect(badRows.err).toContain('"many" is not a positive integer');
  const badAsOf = await cli('export', '--store', store, '--run', 'latest', '--as-of', 'yesterday-ish');
  expect(badAsOf.code).toBe(2);
  expect(badAsOf.err).toContain('neither a sequence number nor an ISO-8601 time');
});
