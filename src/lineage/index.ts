/**
 * Lineage and audit over a run projection: explain (the whole ancestor DAG),
 * descendants, the audit check, replay snapshots and their renderers.
 */
export * from './explain';
export * from './check';
export * from './snapshot';
export * from './render';
