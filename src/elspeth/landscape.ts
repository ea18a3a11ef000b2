/**
 * Reading an ELSPETH Landscape audit database (SQLite, `PRAGMA user_version` 2), strictly
 * read-only and without leaving any file beside it.
 *
 * SQLite opens a WAL-mode database (ELSPETH switches its files to WAL) by creating `-shm`
 * and `-wal` files next to it, even for a read-only connection, and this build of
 * better-sqlite3 does not take `file:...?immutable=1` URIs. So the file is read into memory
 * once and opened from that copy (sqlite3_deserialize): nothing is ever written to the
 * folder, and the database cannot change under the import. A WAL-mode header is read as a
 * rollback-journal one (bytes 18-19), which is what `immutable=1` does. A `-wal` file
 * beside it that holds data not yet checkpointed would be missed, so it is refused.
 */
import * as fs from 'node:fs';
import Database from 'better-sqlite3';
import { ledgerError } from '../errors';

/** ELSPETH's SQLITE_SCHEMA_EPOCH (`PRAGMA user_version`). */
export const LANDSCAPE_SCHEMA_EPOCH = 2;

/** Tables every Landscape database has. */
export const REQUIRED_TABLES = ['runs', 'nodes', 'edges', 'rows', 'tokens', 'token_parents', 'token_outcomes', 'node_states'] as const;
/** Tables read when present (empty otherwise: older databases, or tables ELSPETH never writes). */
export const OPTIONAL_TABLES = [
  'secret_resolutions',
  'preflight_results',
  'operations',
  'calls',
  'routing_events',
  'batches',
  'batch_members',
  'batch_outputs',
  'artifacts',
  'validation_errors',
  'transform_errors',
  'checkpoints',
] as const;
export type LandscapeTable = (typeof REQUIRED_TABLES)[number] | (typeof OPTIONAL_TABLES)[number];

export type LandscapeRow = Record<string, unknown>;

/** All rows of one run, table by table. */
export type RunTables = Record<LandscapeTable, LandscapeRow[]>;

export interface LandscapeRunSummary {
  readonly runId: string;
  readonly status: string;
  readonly startedAt: string;
}

/** Run ids are joined to each table through these (tables without a run_id column go through their parent). */
const RUN_SCOPED_SQL: Record<LandscapeTable, string> = {
  runs: 'SELECT * FROM runs WHERE run_id = @run',
  nodes: 'SELECT * FROM nodes WHERE run_id = @run ORDER BY sequence_in_pipeline IS NULL, sequence_in_pipeline, registered_at, node_id',
  edges: 'SELECT * FROM edges WHERE run_id = @run ORDER BY created_at, edge_id',
  rows: 'SELECT * FROM rows WHERE run_id = @run ORDER BY row_index, row_id',
  tokens: 'SELECT * FROM tokens WHERE run_id = @run ORDER BY created_at, token_id',
  token_parents:
    'SELECT tp.* FROM token_parents tp WHERE tp.token_id IN (SELECT token_id FROM tokens WHERE run_id = @run) ORDER BY tp.token_id, tp.ordinal',
  token_outcomes: 'SELECT * FROM token_outcomes WHERE run_id = @run ORDER BY recorded_at, outcome_id',
  node_states: 'SELECT * FROM node_states WHERE run_id = @run ORDER BY started_at, state_id',
  secret_resolutions: 'SELECT * FROM secret_resolutions WHERE run_id = @run ORDER BY timestamp, resolution_id',
  preflight_results: 'SELECT * FROM preflight_results WHERE run_id = @run ORDER BY created_at, result_id',
  operations: 'SELECT * FROM operations WHERE run_id = @run ORDER BY started_at, operation_id',
  calls: `SELECT c.* FROM calls c WHERE c.state_id IN (SELECT state_id FROM node_states WHERE run_id = @run)
            OR c.operation_id IN (SELECT operation_id FROM operations WHERE run_id = @run) ORDER BY c.created_at, c.call_id`,
  routing_events:
    'SELECT re.* FROM routing_events re WHERE re.state_id IN (SELECT state_id FROM node_states WHERE run_id = @run) ORDER BY re.created_at, re.routing_group_id, re.ordinal',
  batches: 'SELECT * FROM batches WHERE run_id = @run ORDER BY created_at, batch_id',
  batch_members: 'SELECT bm.* FROM batch_members bm WHERE bm.batch_id IN (SELECT batch_id FROM batches WHERE run_id = @run) ORDER BY bm.batch_id, bm.ordinal',
  batch_outputs: 'SELECT bo.* FROM batch_outputs bo WHERE bo.batch_id IN (SELECT batch_id FROM batches WHERE run_id = @run) ORDER BY bo.batch_id, bo.batch_output_id',
  artifacts: 'SELECT * FROM artifacts WHERE run_id = @run ORDER BY created_at, artifact_id',
  validation_errors: 'SELECT * FROM validation_errors WHERE run_id = @run ORDER BY created_at, error_id',
  transform_errors: 'SELECT * FROM transform_errors WHERE run_id = @run ORDER BY created_at, error_id',
  checkpoints: 'SELECT * FROM checkpoints WHERE run_id = @run ORDER BY sequence_number, created_at, checkpoint_id',
};

export class LandscapeDb {
  private constructor(
    private readonly db: Database.Database,
    private readonly tables: ReadonlySet<string>,
    readonly path: string,
  ) {}

  /** Opens `file` read-only from an in-memory copy (see the module comment). */
  static open(file: string): LandscapeDb {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw ledgerError('NOT_FOUND', `the Landscape database ${file} does not exist`, { path: 'audit.db' });
      if (code === 'EISDIR') throw ledgerError('NOT_A_LANDSCAPE', `${file} is a folder, not a Landscape database`, { path: 'audit.db' });
      throw ledgerError('STORE_UNAVAILABLE', `the Landscape database ${file} cannot be read`, { path: 'audit.db' }, e);
    }
    const wal = `${file}-wal`;
    if (fs.existsSync(wal) && fs.statSync(wal).size > 0) {
      throw ledgerError(
        'INVALID_INPUT',
        `${file} has a write-ahead log (${wal}) whose changes are not in the file yet; checkpoint it first (sqlite3 ${file} "PRAGMA wal_checkpoint(TRUNCATE)") or import a copy made with sqlite3 .backup`,
        { path: 'audit.db' },
      );
    }
    if (bytes.length < 100 || bytes.subarray(0, 16).toString('latin1') !== 'SQLite format 3\u0000') {
      throw ledgerError('NOT_A_LANDSCAPE', `${file} is not a SQLite database, so not a Landscape database`, { path: 'audit.db' });
    }
    // a WAL-mode header read as rollback-journal mode (the file itself is never touched)
    if (bytes[18] === 2 || bytes[19] === 2) {
      bytes[18] = 1;
      bytes[19] = 1;
    }
    let db: Database.Database;
    try {
      db = new Database(bytes, { readonly: true });
    } catch (e) {
      throw ledgerError('NOT_A_LANDSCAPE', `${file} cannot be opened as a SQLite database`, { path: 'audit.db' }, e);
    }
    try {
      const names = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name));
      const missing = REQUIRED_TABLES.filter((t) => !names.has(t));
      if (missing.length > 0) {
        throw ledgerError('NOT_A_LANDSCAPE', `${file} is not a Landscape database: it has no ${missing.join(', ')} table${missing.length > 1 ? 's' : ''}`, {
          path: 'audit.db',
          missingTables: missing,
        });
      }
      const epoch = db.pragma('user_version', { simple: true }) as number;
      if (epoch !== LANDSCAPE_SCHEMA_EPOCH) {
        throw ledgerError(
          'NOT_A_LANDSCAPE',
          `${file} has schema epoch (PRAGMA user_version) ${epoch}; this importer reads Landscape databases of epoch ${LANDSCAPE_SCHEMA_EPOCH}`,
          { path: 'audit.db', userVersion: epoch, expected: LANDSCAPE_SCHEMA_EPOCH },
        );
      }
      return new LandscapeDb(db, names, file);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** The runs, oldest first. */
  runs(): LandscapeRunSummary[] {
    return (this.db.prepare('SELECT run_id, status, started_at FROM runs ORDER BY started_at, run_id').all() as Array<Record<string, string>>).map((r) => ({
      runId: String(r.run_id),
      status: String(r.status),
      startedAt: String(r.started_at),
    }));
  }

  /** Every row of every table that belongs to `runId`. */
  readRun(runId: string): RunTables {
    const out = {} as RunTables;
    for (const table of [...REQUIRED_TABLES, ...OPTIONAL_TABLES]) {
      out[table] = this.tables.has(table) ? (this.db.prepare(RUN_SCOPED_SQL[table]).all({ run: runId }) as LandscapeRow[]) : [];
    }
    return out;
  }

  close(): void {
    this.db.close();
  }
}
