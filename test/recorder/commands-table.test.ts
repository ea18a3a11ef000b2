/**
 * The command table (src/recorder/commands/index.ts) is the one list of recorder commands:
 * every entry pairs an io-ts input codec with a decide function, the derived lists agree with
 * it, no domain module's entry is shadowed by another's, and the run handle has a method for
 * each command that runs that command (so a command cannot miss the handle, nor a method
 * dispatch to the wrong command).
 */
import { openLedger } from '../../src/ledger';
import { isLedgerError } from '../../src/errors';
import { emptyRunState } from '../../src/projections/state';
import { COMMAND_INPUT_CODECS, COMMAND_NAMES, COMMANDS, CommandName, decide } from '../../src/recorder/commands';
import { batchCommands } from '../../src/recorder/commands/batches';
import { callCommands } from '../../src/recorder/commands/calls';
import { errorCommands } from '../../src/recorder/commands/errors';
import { graphCommands } from '../../src/recorder/commands/graph';
import { nodeStateCommands } from '../../src/recorder/commands/node-states';
import { outcomeCommands } from '../../src/recorder/commands/outcomes';
import { routingCommands } from '../../src/recorder/commands/routing';
import { rowAndTokenCommands } from '../../src/recorder/commands/rows-tokens';
import { runCommands } from '../../src/recorder/commands/run';
import { runMetadataCommands } from '../../src/recorder/commands/run-metadata';
import { RunHandle } from '../../src/recorder/run-handle';

const DOMAINS = {
  graphCommands,
  rowAndTokenCommands,
  nodeStateCommands,
  routingCommands,
  callCommands,
  batchCommands,
  outcomeCommands,
  errorCommands,
  runMetadataCommands,
  runCommands,
};

// Compile-time: the handle has a method for every command name.
type MissingMethods = Exclude<CommandName, { [K in keyof RunHandle]: RunHandle[K] extends (input: never) => Promise<unknown> ? K : never }[keyof RunHandle]>;
const noneMissing: [MissingMethods] extends [never] ? true : false = true;

test('every command has an input codec and a decide function', () => {
  expect(noneMissing).toBe(true);
  expect(COMMAND_NAMES.length).toBeGreaterThan(0);
  for (const name of COMMAND_NAMES) {
    const c = COMMANDS[name] as { input: unknown; decide: unknown };
    const input = c.input as { name?: unknown; decode?: unknown; is?: unknown };
    expect({ name, codec: typeof input.name, decode: typeof input.decode, is: typeof input.is, decide: typeof c.decide }).toEqual({
      name,
      codec: 'string',
      decode: 'function',
      is: 'function',
      decide: 'function',
    });
  }
});

test('the command names and the input-codec table are the table', () => {
  expect(COMMAND_NAMES).toEqual(Object.keys(COMMANDS));
  expect(Object.keys(COMMAND_INPUT_CODECS)).toEqual(COMMAND_NAMES);
  for (const name of COMMAND_NAMES) expect(COMMAND_INPUT_CODECS[name]).toBe(COMMANDS[name].input);
});

test('each domain module contributes its own commands, none shadowed by another module', () => {
  const owner = new Map<string, string>();
  for (const [domain, table] of Object.entries(DOMAINS)) {
    for (const name of Object.keys(table)) {
      expect({ name, alsoIn: owner.get(name) }).toEqual({ name, alsoIn: undefined });
      owner.set(name, domain);
      expect(COMMANDS[name as CommandName]).toBe((table as Record<string, unknown>)[name]);
    }
  }
  expect([...owner.keys()].sort()).toEqual([...COMMAND_NAMES].sort());
});

test('decide dispatches through the table: a command on a run not begun is RUN_NOT_FOUND, as a Left', () => {
  const d = decide(emptyRunState('r1'), 'registerNode', { pluginName: 'p', nodeType: 'source', pluginVersion: '1', config: {} }, { newId: () => 'x' });
  expect(d._tag).toBe('Left');
  if (d._tag === 'Left') expect(d.left.code).toBe('RUN_NOT_FOUND');
});

test('the run handle has a method for each command, and it runs that command', async () => {
  const ledger = await openLedger({ store: 'memory:' });
  try {
    const run = await ledger.beginRun({ config: {} });
    for (const name of COMMAND_NAMES) {
      const method = (run as unknown as Record<string, unknown>)[name];
      expect({ name, method: typeof method }).toEqual({ name, method: 'function' });
      // null is no command's input: the rejection names the command whose codec checked it
      const error = await (method as (input: unknown) => Promise<unknown>).call(run, null).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isLedgerError(error) ? { name, code: error.code, what: error.details?.what } : { name, error }).toEqual({ name, code: 'INVALID_INPUT', what: `${name} input` });
    }
    expect(Object.getOwnPropertyNames(RunHandle.prototype).filter((n) => (COMMAND_NAMES as string[]).includes(n)).sort()).toEqual([...COMMAND_NAMES].sort());
  } finally {
    await ledger.close();
  }
});
