/**
 * lineage-ledger: an event-sourced lineage recorder for auditable data pipelines.
 */
export { openLedger, Ledger } from './ledger';
export type { OpenLedgerOptions, AsOf, ReadOptions, RunSummary, ExportRunOptions } from './ledger';
export { RunHandle } from './recorder/run-handle';
export type { CommandResults, CommandInputs, CommandName, TokenRef } from './recorder/commands';
export { LedgerError, isLedgerError, ERROR_CODES } from './errors';
export type { LedgerErrorCode, LedgerErrorOf } from './errors';
export { PayloadStore, isPayloadHash, defaultPayloadDir } from './payloads/store';
export type { PayloadAvailability, PayloadRead } from './payloads/store';
export { EVENT_CATALOGUE, EVENT_TYPES } from './events/catalogue';
export type { EventType, EventDataOf } from './events/catalogue';
export type { LedgerEvent, EventEnvelope } from './events/envelope';
export { runStreamId } from './events/envelope';
export { decodeStoredEvent } from './store/events';
export { OUTCOME_TABLE, OUTCOMES, GROUP_TABLE, GROUP_KINDS, DELEGATING_OUTCOMES, isDelegatingOutcome, SINK_WRITTEN_OUTCOMES } from './events/outcomes';
export type { Outcome, RecordableOutcome, TokenOutcomeInput, GroupKind } from './events/outcomes';
export { ENTITY_CODECS, RECORD_TYPES, RECORD_KEYS } from './projections/entities';
export type { RecordType } from './projections/entities';
export type { RunState } from './projections/state';
export { emptyRunState } from './projections/state';
export { evolve, foldEvents } from './projections/evolve';
export { runRecords, recordFieldNames } from './export/records';
export type { ExportRecord, RecordOf } from './export/records';
export { isRecordOf, recordsOf } from './export/records';
export type { EventStore, ProposedEvent, StoredEvent, ExpectedRevision, AppendResult, StreamInfo } from './store/port';
export { MemoryEventStore } from './store/memory';
export { openStore, parseStoreUrl, DEFAULT_STORE_URL, STORE_ENV_VAR } from './store/url';
export { canonicalize } from './canonical/jcs';
export { stableHash, sha256Hex, CANONICAL_VERSION } from './canonical/hash';
export {
  explainToken,
  explainRow,
  rowPathEnds,
  descendants,
  checkRun,
  VIOLATION_CODES,
  runSnapshot,
  graphOfToken,
  graphOfRow,
  graphOfDescendants,
  renderDot,
  renderMermaid,
  renderExplanationText,
  renderRowExplanationText,
  renderDescendantsText,
  renderCheckText,
  renderSnapshotText,
} from './lineage';
export type {
  TokenExplanation,
  RowExplanation,
  Descendants,
  DescendantToken,
  DescendantGroup,
  CreatedBy,
  ExplainedToken,
  ExplainedState,
  ExplainedRow,
  ExplainedRouting,
  ExplainedGroup,
  ExplainedBatch,
  LineageEdge,
  LineageProblem,
  ParentLink,
  LineageAsOf,
  TokenLineageQuery,
  RowLineageQuery,
  LineageQuery,
  DescendantsLedgerQuery,
  CheckResult,
  Violation,
  ViolationCode,
  RunSnapshot,
  LineageGraph,
} from './lineage';
export { follow, DEFAULT_POLL_INTERVAL_MS } from './subscriptions/follow';
export type {
  FollowTarget,
  FollowRunOptions,
  FollowAllOptions,
  FollowEventInfo,
  FollowUpdate,
  Subscription,
  RunSubscription,
  AllSubscription,
  RunCheckpoint,
  AllCheckpoint,
} from './subscriptions/follow';
export type { StoreListener } from './store/port';
export { PROJECTION_FEED_CHECKPOINT } from './subscriptions/projection-feed';
export type { ProjectionFeed, ProjectionFeedOptions } from './subscriptions/projection-feed';
export { eventJsonSchema, eventJsonSchemaText, EVENT_SCHEMA_ID } from './events/json-schema';
export {
  writeExport,
  exportState,
  exportStateLines,
  loadRunForExport,
  ChainEncoder,
  digestRecords,
  buildManifest,
  manifestSigningBytes,
  chainGenesis,
  nextChainHash,
  recordId,
  describeRecord,
  EXPORT_FORMAT,
  BUNDLE_RECORDS_FILE,
  BUNDLE_MANIFEST_FILE,
} from './export/bundle';
export type { ExportManifest, ExportFormat, ExportResult, ExportBundleOptions, ExportStateOptions, RecordsDigest } from './export/bundle';
export { verifyExport, verifyProof, describeBadRecord } from './export/verify';
export type { VerifyReport, VerifyOptions, VerifyCheck, BadRecord } from './export/verify';
export { checkProof, proveRecord, PROOF_FORMAT } from './export/proof';
export type { InclusionProofDocument } from './export/proof';
export { locateExport, parseManifest } from './export/read';
export { importExport, synthesizeRunEvents } from './export/import';
export type { ImportOptions, ImportResult } from './export/import';
export { importElspeth, IMPORT_ANOMALIES_MARK } from './elspeth/import';
export type { ImportElspethOptions, ImportElspethReport, RunImportReport, PayloadReport } from './elspeth/import';
export type { LandscapeAnomaly } from './elspeth/records';
export { LANDSCAPE_MAPPING } from './elspeth/mapping';
export { CsvView, writeCsvView, csvCell } from './export/csv';
export {
  generateEd25519KeyPair,
  writeKeyFiles,
  loadSigner,
  loadVerifier,
  ed25519Signer,
  ed25519Verifier,
  hmacSigner,
  parsePrivateKey,
  parsePublicKey,
  parseHmacKey,
  ed25519KeyId,
  hmacKeyId,
} from './export/keys';
export type { Signer, SignatureVerifier, SignatureAlgorithm, KeygenResult } from './export/keys';
