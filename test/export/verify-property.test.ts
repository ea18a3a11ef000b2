/**
 * Property: ANY single mutation of the records file (a byte flip anywhere, a line
 * deleted, duplicated, two lines swapped, a line inserted) fails verification; and any
 * byte flip anywhere in a signed jsonl export (records or manifest line) fails it too.
 */
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { canonicalize } from '../../src/canonical/jcs';
import { BUNDLE_RECORDS_FILE, writeExport } from '../../src/export/bundle';
import { ed25519Signer, ed25519Verifier, SignatureVerifier } from '../../src/export/keys';
import { verifyExport } from '../../src/export/verify';
import { openLedger } from '../../src/ledger';
import { recordDemoRun } from '../../src/workloads/demo';
import { tempDir } from './bundle-fixtures';

const tmp = tempDir('ll-prop-');
let bundle: string;
let jsonl: string;
let recordsBytes: Buffer;
let recordLines: Buffer[];
let verifier: SignatureVerifier;

beforeAll(async () => {
  const ledger = await openLedger({ store: 'memory:' });
  const { runId } = await recordDemoRun(ledger, { rows: 6 });
  const keys = generateKeyPairSync('ed25519');
  verifier = ed25519Verifier(keys.publicKey);
  bundle = path.join(tmp.dir, 'bundle');
  jsonl = path.join(tmp.dir, 'export.jsonl');
  await writeExport(ledger, runId, bundle, { format: 'bundle', signer: ed25519Signer(keys.privateKey) });
  await writeExport(ledger, runId, jsonl, { signer: ed25519Signer(keys.privateKey) });
  await ledger.close();
  recordsBytes = fs.readFileSync(path.join(bundle, BUNDLE_RECORDS_FILE));
  recordLines = [];
  let s = 0;
  for (let nl = recordsBytes.indexOf(10); nl >= 0; nl = recordsBytes.indexOf(10, s)) {
    recordLines.push(recordsBytes.subarray(s, nl + 1));
    s = nl + 1;
  }
});
afterAll(() => tmp.cleanup());

type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'delete'; i: number }
  | { kind: 'duplicate'; i: number; to: number }
  | { kind: 'swap'; i: number; j: number }
  | { kind: 'insert'; at: number; line: string };

function apply(m: Mutation): Buffer {
  switch (m.kind) {
    case 'flip': {
      const b = Buffer.from(recordsBytes);
      const at = m.at % b.length;
      b[at] = b[at]! ^ m.mask;
      return b;
    }
    case 'delete': {
      const ls = [...recordLines];
      ls.splice(m.i % ls.length, 1);
      return Buffer.concat(ls);
    }
    case 'duplicate': {
      const ls = [...recordLines];
      ls.splice(m.to % (ls.length + 1), 0, ls[m.i % ls.length]!);
      return Buffer.concat(ls);
    }
    case 'swap': {
      const ls = [...recordLines];
      const i = m.i % ls.length;
      let j = m.j % ls.length;
      if (j === i) j = (i + 1) % ls.length;
      [ls[i], ls[j]] = [ls[j]!, ls[i]!];
      return Buffer.concat(ls);
    }
    case 'insert': {
      const ls = [...recordLines];
      ls.splice(m.at % (ls.length + 1), 0, Buffer.from(`${m.line}\n`, 'utf8'));
      return Buffer.concat(ls);
    }
  }
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), i: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), i: fc.nat(), to: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), i: fc.nat(), j: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    line: fc.oneof(
      fc.string(),
      fc.json(),
      // a plausible forged record: an existing line with one field changed, chain hash kept
      fc.tuple(fc.nat(), fc.string({ minLength: 1 })).map(([i, v]) => {
        const r = JSON.parse(recordLines[i % recordLines.length]!.toString('utf8')) as Record<string, unknown>;
        r.forged = v;
        return canonicalize(r);
      }),
    ),
  }),
);

let n = 0;

test('any single mutation of the records file is detected', async () => {
  await fc.assert(
    fc.asyncProperty(mutation, async (m) => {
      const dir = path.join(tmp.dir, `m${++n}`);
      fs.mkdirSync(dir);
      fs.copyFileSync(path.join(bundle, 'manifest.json'), path.join(dir, 'manifest.json'));
      fs.writeFileSync(path.join(dir, BUNDLE_RECORDS_FILE), apply(m));
      const report = await verifyExport(dir, { verifier });
      fs.rmSync(dir, { recursive: true, force: true });
      expect(report.ok).toBe(false);
      expect(report.problem).toEqual(expect.any(String));
    }),
    { numRuns: 300 },
  );
});

test('any byte flip anywhere in a signed jsonl export is detected', async () => {
  const bytes = fs.readFileSync(jsonl);
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, mask) => {
      const file = path.join(tmp.dir, `f${++n}.jsonl`);
      const b = Buffer.from(bytes);
      b[at] = b[at]! ^ mask;
      fs.writeFileSync(file, b);
      const report = await verifyExport(file, { verifier });
      fs.rmSync(file, { force: true });
      expect(report.ok).toBe(false);
    }),
    { numRuns: 200 },
  );
});

test('the unmodified files verify (the property is not vacuous)', async () => {
  expect((await verifyExport(bundle, { verifier })).ok).toBe(true);
  expect((await verifyExport(jsonl, { verifier })).ok).toBe(true);
});
