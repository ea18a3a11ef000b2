/**
 * Files of the older SQLite layouts (schema versions 1 and 2: JSON text, stream and event ids as
 * text), made from a current file, for the tests of reading and upgrading them. The layout below
 * is the one those versions wrote; the projection tables of version 2 are made empty (an upgrade
 * drops them, a read-only open does not read them).
 */
import Database from 'better-sqlite3';
import { decodeEventRow } from '../../src/store/sqlite/schema';

const LEGACY_TABLES = `
CREATE TABLE legacy_events (
  position  INTEGER PRIMARY KEY,
  stream_id TEXT    NOT NULL,
  revision  INTEGER NOT NULL,
  event_id  TEXT    NOT NULL,
  type      TEXT    NOT NULL,
  data      TEXT    NOT NULL,
  metadata  TEXT    NOT NULL
);
CREATE TABLE legacy_streams (
  stream_id        TEXT    PRIMARY KEY NOT NULL,
  revision         INTEGER NOT NULL,
  created_position INTEGER NOT NULL
);
`;

const LEGACY_INDEXES = `
CREATE UNIQUE INDEX events_by_stream ON events (stream_id, revision);
CREATE UNIQUE INDEX events_by_event_id ON events (event_id);
CREATE INDEX streams_by_creation ON streams (created_position);
`;

const V2_PROJECTION = `
CREATE TABLE projection_runs (run_key INTEGER PRIMARY KEY, stream_id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL, recorded_at TEXT);
CREATE TABLE projection (run_key INTEGER NOT NULL, map INTEGER NOT NULL, key NOT NULL, id INTEGER NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_key, map, key)) WITHOUT ROWID;
CREATE INDEX projection_by_order ON projection (run_key, map, id);
`;

/** Rewrites a closed ledger file of the current layout in the layout of schema version `version`. */
export function rewriteAsLegacy(file: string, version: 1 | 2): void {
  const db = new Database(file);
  try {
    db.exec('BEGIN');
    db.exec(LEGACY_TABLES);
    const rows = db
      .prepare('SELECT e.position, s.stream_id, e.revision, e.event_id, e.type, e.body FROM events e JOIN streams s ON s.stream_key = e.stream_key ORDER BY e.position')
      .raw()
      .all() as [number, string, number, unknown, unknown, unknown][];
    const insert = db.prepare('INSERT INTO legacy_events VALUES (?, ?, ?, ?, ?, ?, ?)');
    const firstPosition = new Map<string, number>();
    for (const [position, streamId, revision, id, type, body] of rows) {
      const e = decodeEventRow(streamId, revision, id, type, body);
      if (typeof e === 'string') throw new Error(`position ${position}: ${e}`);
      insert.run(position, streamId, revision, e.eventId, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata));
      if (!firstPosition.has(streamId)) firstPosition.set(streamId, position);
    }
    const addStream = db.prepare('INSERT INTO legacy_streams VALUES (?, ?, ?)');
    for (const [streamId, revision] of db.prepare('SELECT stream_id, revision FROM streams').raw().all() as [string, number][]) {
      addStream.run(streamId, revision, firstPosition.get(streamId) ?? 0);
    }
    db.exec(`
      DROP TABLE events; DROP TABLE streams; DROP TABLE projection; DROP TABLE projection_runs;
      ALTER TABLE legacy_events RENAME TO events; ALTER TABLE legacy_streams RENAME TO streams;
    `);
    db.exec(LEGACY_INDEXES);
    if (version === 2) db.exec(V2_PROJECTION);
    db.prepare("UPDATE ledger_meta SET value = ? WHERE key = 'schema_version'").run(String(version));
    db.pragma(`user_version = ${version}`);
    db.exec('COMMIT');
    db.exec('VACUUM');
  } finally {
    db.close();
  }
}

/**
 * Rewrites a current file's projection table in layout 1 (clustered by run, map, key; no
 * `projection_layout` in ledger_meta), the layout the first files of schema version 3 have, with
 * the same entries.
 */
export function rewriteProjectionAsLayout1(file: string): void {
  const db = new Database(file);
  try {
    db.exec(`
      BEGIN;
      ALTER TABLE projection RENAME TO projection_now;
      DROP INDEX projection_by_order;
      CREATE TABLE projection (run_key INTEGER NOT NULL, map INTEGER NOT NULL, key NOT NULL, id INTEGER NOT NULL, value BLOB NOT NULL, PRIMARY KEY (run_key, map, key)) WITHOUT ROWID;
      INSERT INTO projection SELECT run_key, map, key, id, value FROM projection_now;
      DROP TABLE projection_now;
      CREATE INDEX projection_by_order ON projection (run_key, map, id);
      DELETE FROM ledger_meta WHERE key = 'projection_layout';
      COMMIT;
    `);
  } finally {
    db.close();
  }
}
