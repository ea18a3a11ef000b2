import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { PayloadStore, isPayloadHash } from '../../src/payloads/store';
import { isLedgerError } from '../../src/errors';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('payload store (content-addressed folder)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payloads-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes a body under <2 hex>/<sha256>, reads it back verified, and leaves no temporary file', () => {
    const store = PayloadStore.open(path.join(dir, 'p'));
    const body = Buffer.from('{"id":1,"name":"a"}');
    const hash = store.put(body);
    expect(hash).toBe(sha(body));
    expect(fs.readFileSync(path.join(dir, 'p', hash.slice(0, 2), hash))).toEqual(body);
    const read = store.get(hash);
    expect(read.status).toBe('available');
    expect(read.status === 'available' && read.bytes.equals(body)).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'p', hash.slice(0, 2)))).toEqual([hash]);
    expect(store.put(body)).toBe(hash);
  });

  it('reports bytes changed on disk as integrity_error and never returns them; put repairs the body', () => {
    const store = PayloadStore.open(dir);
    const body = Buffer.from('original');
    const hash = store.put(body);
    fs.writeFileSync(store.pathOf(hash), 'tampered');
    expect(store.get(hash)).toEqual({ status: 'integrity_error' });
    store.put(body);
    expect(store.get(hash).status).toBe('available');
  });

  it('writes into a folder removed since the store made it (made again)', () => {
    const store = PayloadStore.open(dir);
    const hash = store.put(Buffer.from('first'));
    fs.rmSync(path.dirname(store.pathOf(hash)), { recursive: true });
    // a body whose name falls in the same folder
    let other = Buffer.from('x');
    for (let i = 0; sha(other).slice(0, 2) !== hash.slice(0, 2); i++) other = Buffer.from(`x${i}`);
    const again = store.put(other);
    expect(store.get(again).status).toBe('available');
    expect(store.put(Buffer.from('first'))).toBe(hash);
    expect(store.get(hash).status).toBe('available');
  });

  it('says missing for an absent body and after delete', () => {
    const store = PayloadStore.open(dir);
    const hash = store.put(Buffer.from('x'));
    expect(store.delete(hash)).toBe(true);
    expect(store.delete(hash)).toBe(false);
    expect(store.get(hash)).toEqual({ status: 'missing' });
    expect(store.has(hash)).toBe(false);
  });

  it.each(['../../etc/passwd', '..', 'A'.repeat(64), 'ab/cd', '0'.repeat(63), `${'0'.repeat(64)}/..`, ''])(
    'refuses the reference %p before building a path (INVALID_INPUT)',
    (ref) => {
      const store = PayloadStore.open(dir);
      expect(isPayloadHash(ref)).toBe(false);
      let err: unknown;
      try {
        store.get(ref);
      } catch (e) {
        err = e;
      }
      expect(isLedgerError(err, 'INVALID_INPUT')).toBe(true);
      expect(String((err as Error).message)).not.toContain(ref || '\u0000');
    },
  );

  it('putVerified refuses bytes that do not match the hash and writes nothing', () => {
    const store = PayloadStore.open(dir);
    const hash = sha(Buffer.from('right'));
    expect(() => store.putVerified(hash, Buffer.from('wrong'))).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
    expect(store.has(hash)).toBe(false);
    store.putVerified(hash, Buffer.from('right'));
    expect(store.get(hash).status).toBe('available');
  });

  it('with create: false a missing folder is NOT_FOUND and nothing is created', () => {
    const where = path.join(dir, 'absent');
    expect(() => PayloadStore.open(where, { create: false })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(fs.existsSync(where)).toBe(false);
  });
});

describe('the ledger configures a payload store', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { openLedger } = require('../../src/ledger') as typeof import('../../src/ledger');
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payloads-ledger-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('beside a sqlite: file by default (no folder made until a write), none for memory: or payloads: null, a given folder otherwise', async () => {
    const file = path.join(dir, 'l.db');
    const a = await openLedger({ store: `sqlite:${file}` });
    expect(a.payloads?.dir).toBe(`${file}.payloads`);
    expect(fs.existsSync(`${file}.payloads`)).toBe(false);
    await a.close();
    const b = await openLedger({ store: `sqlite:${file}`, payloads: null });
    expect(b.payloads).toBeNull();
    await b.close();
    const c = await openLedger({ store: 'memory:' });
    expect(c.payloads).toBeNull();
    await c.close();
    const d = await openLedger({ store: 'memory:', payloads: path.join(dir, 'elsewhere') });
    expect(d.payloads?.dir).toBe(path.join(dir, 'elsewhere'));
    await d.close();
    await expect(openLedger({ store: `sqlite:${file}`, create: false, payloads: path.join(dir, 'absent') })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(fs.existsSync(path.join(dir, 'absent'))).toBe(false);
  });
});
