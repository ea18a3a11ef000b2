/**
 * Export records are typed per record type: narrowing on `record_type` gives the type's fields
 * (a misspelt field does not compile: the @ts-expect-error lines fail the type check when the
 * field exists), and `isLedgerError(e, code)` narrows `e.code`.
 */
import { isLedgerError, isRecordOf, openLedger, recordsOf } from '../../src';
import { ledgerError as ledgerErrorForTest } from '../../src/errors';
import type { ExportRecord, LedgerErrorCode } from '../../src';

describe('typed export records', () => {
  test('record_type narrows the fields', async () => {
    const ledger = await openLedger({ store: 'memory:' });
    const run = await ledger.beginRun({ config: {} });
    const node = await run.registerNode({ pluginName: 's', nodeType: 'source', pluginVersion: '1', config: {} });
    const row = await run.createRow({ sourceNodeId: node.nodeId, rowIndex: 0, data: {}, withToken: true });
    const { expandGroupId } = await run.expandToken({ parentTokenId: row.tokenId!, rowId: row.rowId, count: 1 });
    const records: ExportRecord[] = [];
    for await (const r of ledger.exportRun(run.runId)) records.push(r);
    await ledger.close();

    const groups: Array<string | null> = [];
    for (const r of records) {
      if (r.record_type === 'token') {
        const g: string | null = r.expand_group_id;
        groups.push(g);
        // @ts-expect-error a misspelt field of a token record does not compile
        void r.expand_grup_id;
      }
      if (isRecordOf(r, 'row')) {
        const index: number = r.row_index;
        expect(index).toBe(0);
        // @ts-expect-error a row record has no expand_group_id
        void r.expand_group_id;
      }
    }
    expect(groups).toEqual([null, expandGroupId]);
    expect(recordsOf(records, 'token_outcome').map((o) => o.outcome)).toEqual(['expanded']);
  });

  test('isLedgerError with a code narrows e.code', () => {
    const make = (): unknown => ledgerErrorForTest('RUN_NOT_FOUND', 'no such run');
    const e = make();
    if (!isLedgerError(e, 'RUN_NOT_FOUND')) throw new Error('expected a RUN_NOT_FOUND LedgerError');
    const code: 'RUN_NOT_FOUND' = e.code;
    expect(code).toBe('RUN_NOT_FOUND');
    const other = make();
    if (!isLedgerError(other)) throw new Error('expected a LedgerError');
    const any: LedgerErrorCode = other.code;
    // @ts-expect-error without a code, e.code is any code, not one literal
    const narrow: 'RUN_NOT_FOUND' = other.code;
    expect([any, narrow]).toEqual(['RUN_NOT_FOUND', 'RUN_NOT_FOUND']);
    expect(isLedgerError(make(), 'NOT_FOUND')).toBe(false);
  });
});
