/**
 * The CLI verbs that record or read payloads take --payloads: demo stores bodies in
 * <file>.payloads by default, explain --json carries each payload's status, --payloads none
 * turns the store off, and a reading verb whose default payload folder is absent creates none.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from '../cli/support';
import { openLedger } from '../../src';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payload-cli-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function firstToken(store: string): Promise<{ runId: string; tokenId: string }> {
  const ledger = await openLedger({ store, create: false, payloads: null });
  const runId = await ledger.resolveRunId('latest');
  const state = await ledger.loadRun(runId);
  const tokenId = [...state.tokens.keys()][0]!;
  await ledger.close();
  return { runId, tokenId };
}

test('demo stores payloads beside the SQLite file; explain --json shows them available, and store_not_configured with --payloads none', async () => {
  const db = path.join(dir, 'demo.db');
  const store = `sqlite:${db}`;
  const demo = await cli('demo', '--store', store, '--rows', '3');
  expect(demo.code).toBe(0);
  expect(fs.existsSync(`${db}.payloads`)).toBe(true);
  const { runId, tokenId } = await firstToken(store);
  const ex = await cli('explain', '--store', store, '--run', runId, '--token', tokenId, '--format', 'json');
  expect(ex.code).toBe(0);
  const json = JSON.parse(ex.out) as { sourceRows: Array<{ payload: { status: string; data?: unknown } }> };
  expect(json.sourceRows[0]!.payload.status).toBe('available');
  expect(json.sourceRows[0]!.payload.data).toBeDefined();
  const text = await cli('explain', '--store', store, '--run', runId, '--token', tokenId);
  expect(text.out).toContain('payload available');
  const none = await cli('explain', '--store', store, '--run', runId, '--token', tokenId, '--format', 'json', '--payloads', 'none');
  expect((JSON.parse(none.out) as typeof json).sourceRows[0]!.payload.status).toBe('store_not_configured');
});

test('explain on a store whose default payload folder does not exist creates no folder', async () => {
  const db = path.join(dir, 'plain.db');
  const store = `sqlite:${db}`;
  expect((await cli('demo', '--store', store, '--rows', '2', '--payloads', 'none')).code).toBe(0);
  expect(fs.existsSync(`${db}.payloads`)).toBe(false);
  const { runId, tokenId } = await firstToken(store);
  const ex = await cli('explain', '--store', store, '--run', runId, '--token', tokenId, '--format', 'json');
  expect(ex.code).toBe(0);
  expect((JSON.parse(ex.out) as { sourceRows: Array<{ payload: { status: string } }> }).sourceRows[0]!.payload.status).toBe('never_stored');
  expect(fs.existsSync(`${db}.payloads`)).toBe(false);
});
