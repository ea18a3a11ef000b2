/**
 * Type-level checks of the fold table (src/projections/evolve.ts), run by `npm run typecheck`
 * and by fold-table.test.ts. Each `@ts-expect-error` marks a table the compiler must refuse:
 * should one be accepted, the unused directive fails the typecheck itself.
 */
import { EVENT_FOLDS, type EventFolds } from '../../src/projections/evolve';
import type { Inverted } from '../../src/projections/inverse';

const { PayloadsPurged: _purged, ...withoutOne } = EVENT_FOLDS;
// @ts-expect-error a table without one event type (its fold and its inverse) is refused
export const missingEventType: EventFolds = withoutOne;

export const missingInverse: EventFolds = {
  ...EVENT_FOLDS,
  // @ts-expect-error an event type with a fold but no inverse is refused
  CheckpointTaken: { evolve: EVENT_FOLDS.CheckpointTaken.evolve },
};

export const carriedByItself: EventFolds = {
  ...EVENT_FOLDS,
  // @ts-expect-error an event type cannot say that its own inverse carries it
  CheckpointTaken: { evolve: EVENT_FOLDS.CheckpointTaken.evolve, inverse: { carriedBy: 'CheckpointTaken', note: 'x' } },
};

export const incompleteData: EventFolds = {
  ...EVENT_FOLDS,
  RowCreated: {
    evolve: EVENT_FOLDS.RowCreated.evolve,
    inverse: {
      seat: 'body',
      *invert(records): Generator<Inverted<'RowCreated'>> {
        for (const i of records.of('row')) {
          const { createdAt, quarantined: _quarantined, ...data } = records.get(i, 'row');
          // @ts-expect-error an inverse whose events lack a field of the event's data is refused
          yield { data, at: createdAt, creates: [i] };
        }
      },
    },
  },
};

export const misspeltField: EventFolds = {
  ...EVENT_FOLDS,
  BatchCreated: {
    evolve: EVENT_FOLDS.BatchCreated.evolve,
    inverse: {
      seat: 'body',
      *invert(records): Generator<Inverted<'BatchCreated'>> {
        for (const i of records.of('batch')) {
          const e = records.get(i, 'batch');
          // @ts-expect-error a field the event does not have is refused
          yield { data: { batchId: e.batchId, aggregationNodeId: e.aggregationNodeId, attempt: e.attempt, status: e.status }, at: e.createdAt, creates: [i] };
        }
      },
    },
  },
};
