/**
 * Payload bodies are made durable before the append that refers to them: when that fails, the
 * command fails with STORE_UNAVAILABLE, nothing is appended, and the handle turns stale.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isLedgerError, openLedger, runStreamId } from '../../src';

test('a body that cannot be synced fails its command and appends nothing', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payload-sync-'));
  try {
    const ledger = await openLedger({ store: `sqlite:${path.join(dir, 'l.db')}` });
    const run = await ledger.beginRun({ config: {} });
    const node = await run.registerNode({ pluginName: 's', nodeType: 'source', pluginVersion: '1', config: {} });
    const before = await ledger.store.streamRevision(runStreamId(run.runId));
    const payloads = ledger.payloads!;
    const original = payloads.syncBodies.bind(payloads);
    payloads.syncBodies = () => original([path.join(dir, 'no-such-file')]);
    let caught: unknown;
    try {
      await run.createRow({ sourceNodeId: node.nodeId, rowIndex: 0, data: { a: 1 } });
    } catch (e) {
      caught = e;
    }
    expect(isLedgerError(caught, 'STORE_UNAVAILABLE')).toBe(true);
    expect(await ledger.store.streamRevision(runStreamId(run.runId))).toBe(before);
    expect(run.isStale).toBe(true);
    payloads.syncBodies = original;
    const reopened = await ledger.openRun(run.runId);
    const row = await reopened.createRow({ sourceNodeId: node.nodeId, rowIndex: 0, data: { a: 1 } });
    expect(payloads.get(row.sourceDataHash).status).toBe('available');
    await ledger.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
