/**
 * The recorder's commands, one table. Each domain module declares its commands (input codec
 * and decider); the command names, their input and result types, the input codecs and the run
 * handle's methods are all derived from COMMANDS, so a new command is one entry in its
 * domain module.
 */
import type * as t from 'io-ts';
import type { Either } from 'fp-ts/Either';
import type { LedgerError } from '../../errors';
import type { RunState } from '../../projections/state';
import type { ArgumentOf, DecideContext, Decision, InputOf, ResultOf } from './command';
import { batchCommands } from './batches';
import { callCommands } from './calls';
import { errorCommands } from './errors';
import { graphCommands } from './graph';
import { nodeStateCommands } from './node-states';
import { outcomeCommands } from './outcomes';
import { routingCommands } from './routing';
import { rowAndTokenCommands } from './rows-tokens';
import { runCommands } from './run';
import { runMetadataCommands } from './run-metadata';

export { command, commandTaking, MAX_TOKENS_PER_COMMAND } from './command';
export type { ArgumentOf, Command, DecideContext, Decider, Decision, EventDraft, InputOf, PayloadBody, ResultOf, TokenRef } from './command';
export { BeginRunInput, decideBeginRun, decidePayloadsPurged, REPLAY_DETERMINISM, reproducibilityGradeOf } from './run';

/**
 * Every recorder command by name. Their order is the order the run handle's methods, the
 * collector's OpenAPI document and the list of commands in error messages follow.
 */
export const COMMANDS = {
  ...graphCommands,
  ...rowAndTokenCommands,
  ...nodeStateCommands,
  ...routingCommands,
  ...callCommands,
  ...batchCommands,
  ...outcomeCommands,
  ...errorCommands,
  ...runMetadataCommands,
  ...runCommands,
};

export type CommandTable = typeof COMMANDS;

/** The names of the recorder's commands: the run handle's recording methods (also the collector's `op`). */
export type CommandName = keyof CommandTable;

/** Each command's input once decoded: what its decider takes. */
export type CommandInputs = { [K in CommandName]: InputOf<CommandTable[K]> };

/** Each command's result, as its decide function returns it. */
export type CommandResults = { [K in CommandName]: ResultOf<CommandTable[K]> };

/** What each command's run-handle method takes (its decoded input, or narrower). */
export type CommandArguments = { [K in CommandName]: ArgumentOf<CommandTable[K]> };

/** The names of the recorder's commands, in table order. */
export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

/** The input codec of every command (the collector's request schemas are generated from them). */
export const COMMAND_INPUT_CODECS: { readonly [K in CommandName]: t.Decoder<unknown, CommandInputs[K]> & t.Mixed } = Object.fromEntries(
  COMMAND_NAMES.map((name) => [name, COMMANDS[name].input]),
) as never;

/** Decides a command against the run state. Never throws: every rejection is a Left with a LedgerError. */
export function decide<K extends CommandName>(state: RunState, name: K, input: CommandInputs[K], ctx: DecideContext): Either<LedgerError, Decision<CommandResults[K]>> {
  const c = COMMANDS[name] as unknown as { decide(state: RunState, input: CommandInputs[K], ctx: DecideContext): Either<LedgerError, Decision<CommandResults[K]>> };
  return c.decide(state, input, ctx);
}
