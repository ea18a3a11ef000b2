/**
 * Recorder invariants as decider specifications: given a history, when a command is
 * decided, then exactly these events (or this rejection), with no store involved.
 */
import { command, given, runStarted, specId } from '../support/decider-spec';

const SOURCE = specId(0xa01);
const SINK = specId(0xa02);
const ROW = specId(0xa03);
const TOKEN = specId(0xa04);

/** A run with a source and a sink node and one row with its token. */
const withRow = [
  runStarted(),
  command('registerNode', { nodeId: SOURCE, pluginName: 'csv', nodeType: 'source', pluginVersion: '1', config: {} }),
  command('registerNode', { nodeId: SINK, pluginName: 'json', nodeType: 'sink', pluginVersion: '1', config: {} }),
  command('createRow', { sourceNodeId: SOURCE, rowIndex: 0, rowId: ROW, data: { a: 1 } }),
  command('createToken', { rowId: ROW, tokenId: TOKEN }),
];

describe('decider specifications', () => {
  test('expand: one TokenExpanded naming the group, the parent outcome and every child', () => {
    const out = given(...withRow)
      .when('expandToken', { parentTokenId: TOKEN, rowId: ROW, count: 2 })
      .then([
        {
          type: 'TokenExpanded',
          data: {
            parentTokenId: TOKEN,
            rowId: ROW,
            expandGroupId: specId(1),
            stepInPipeline: null,
            children: [{ tokenId: specId(3) }, { tokenId: specId(4) }],
            outcomeId: specId(2),
            contextJson: null,
          },
        },
      ]);
    expect(out.result.expandGroupId).toBe(specId(1));
    // the fold gives every child the group and makes the parent terminal
    expect(out.state.tokens.get(specId(3))?.expandGroupId).toBe(specId(1));
    expect(out.state.tokens.get(specId(4))?.expandGroupId).toBe(specId(1));
  });

  test('an expanded parent is terminal: no second expand, no outcome, no fork', () => {
    const expanded = command('expandToken', { parentTokenId: TOKEN, rowId: ROW, count: 2 });
    given(...withRow, expanded).when('expandToken', { parentTokenId: TOKEN, rowId: ROW, count: 1 }).rejects('TERMINAL_OUTCOME_EXISTS', 'parentTokenId');
    given(...withRow, expanded).when('recordTokenOutcome', { tokenId: TOKEN, outcome: 'completed', sinkName: 'out' }).rejects('TERMINAL_OUTCOME_EXISTS', 'tokenId');
    given(...withRow, expanded).when('forkToken', { parentTokenId: TOKEN, rowId: ROW, branches: ['a', 'b'] }).rejects('TERMINAL_OUTCOME_EXISTS', 'parentTokenId');
  });

  test('fork: branch names are unique, and the parent must belong to the row', () => {
    given(...withRow).when('forkToken', { parentTokenId: TOKEN, rowId: ROW, branches: ['a', 'a'] }).rejects('INVALID_INPUT', 'branches[1]');
    const other = specId(0xa05);
    given(...withRow, command('createRow', { sourceNodeId: SOURCE, rowIndex: 1, rowId: other, data: {} }))
      .when('forkToken', { parentTokenId: TOKEN, rowId: other, branches: ['a'] })
      .rejects('LINEAGE_SCOPE_VIOLATION');
  });

  test('input codecs run first: a bad field is INVALID_INPUT with its io-ts path', () => {
    given(...withRow).when('createRow', { sourceNodeId: SOURCE, rowIndex: -1, data: {} }).rejects('INVALID_INPUT', 'rowIndex');
    given(...withRow).when('createToken', { rowId: ROW, extra: true }).rejects('INVALID_INPUT', 'extra');
  });

  test('unknown and duplicate ids', () => {
    given(...withRow).when('createToken', { rowId: specId(0xbad) }).rejects('ROW_NOT_FOUND', 'rowId');
    given(...withRow).when('createRow', { sourceNodeId: SOURCE, rowIndex: 0, data: {} }).rejects('DUPLICATE_ID', 'rowIndex');
    given(...withRow).when('createToken', { rowId: ROW, tokenId: TOKEN }).rejects('DUPLICATE_ID', 'tokenId');
  });

  test('one terminal outcome per token, and nothing recorded after the run completed', () => {
    const done = command('recordTokenOutcome', { tokenId: TOKEN, outcome: 'completed', sinkName: 'out' });
    given(...withRow, done).when('recordTokenOutcome', { tokenId: TOKEN, outcome: 'failed', errorHash: 'a'.repeat(64) }).rejects('TERMINAL_OUTCOME_EXISTS', 'tokenId');
    given(...withRow, done, command('complete', { status: 'completed' }))
      .when('createRow', { sourceNodeId: SOURCE, rowIndex: 1, data: {} })
      .rejects('RUN_NOT_RUNNING');
  });

  test('the helper itself fails when the expectation is wrong', () => {
    expect(() => given(...withRow).when('createToken', { rowId: ROW }).rejects('ROW_NOT_FOUND')).toThrow(/was accepted/);
    expect(() => given(...withRow).when('createToken', { rowId: specId(0xbad) }).accepted()).toThrow(/was rejected \(ROW_NOT_FOUND/);
    expect(() => given(...withRow).when('createToken', { rowId: ROW }).then([])).toThrow();
    expect(() => given(command('createToken', { rowId: ROW }))).toThrow(/history step createToken was rejected/);
  });
});
