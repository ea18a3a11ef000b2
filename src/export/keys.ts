/**
 * Signing keys for export manifests (node:crypto only).
 *
 * Ed25519 (the default):
 * - private key: PKCS#8 PEM ("BEGIN PRIVATE KEY"), unencrypted; public key: SPKI PEM ("BEGIN PUBLIC KEY");
 * - key id = lowercase hex SHA-256 of the public key's SPKI DER encoding (44 bytes for Ed25519), so the
 *   verifier computes the same id from the public key alone;
 * - signature = Ed25519 (RFC 8032, pure) over the message, written as 128 lowercase hex characters.
 *
 * HMAC-SHA256 (for parity with systems that sign with a shared secret):
 * - key = the bytes of the key file, minus one trailing line end ("\n" or "\r\n"); at least 32 bytes
 *   (`lineage-ledger keygen --hmac` writes 32 random bytes as 64 hex characters and a newline, and the
 *   key is then those 64 ASCII characters);
 * - key id = lowercase hex SHA-256 of the UTF-8 domain tag "lineage-ledger/hmac-sha256-key-id/v1", one
 *   0x00 byte, then the key bytes: it names the key without revealing it (a key of at least 32 bytes
 *   cannot be guessed from its hash);
 * - signature = HMAC-SHA256(key, message) as 64 lowercase hex characters. Anyone holding the key can
 *   also sign: HMAC proves integrity to the key's holders, not authorship to third parties.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { sha256Hex } from '../canonical/hash';
import { ledgerError } from '../errors';

export type SignatureAlgorithm = 'ed25519' | 'hmac-sha256' | 'none';

/** Signs manifests. */
export interface Signer {
  readonly algorithm: 'ed25519' | 'hmac-sha256';
  readonly keyId: string;
  /** Lowercase hex signature of `message`. */
  sign(message: Uint8Array): string;
}

/** Checks manifest signatures. */
export interface SignatureVerifier {
  readonly algorithm: 'ed25519' | 'hmac-sha256';
  readonly keyId: string;
  /** True when `signatureHex` is a valid signature of `message` under this key. */
  verify(message: Uint8Array, signatureHex: string): boolean;
}

export const HMAC_KEY_ID_TAG = 'lineage-ledger/hmac-sha256-key-id/v1';
export const HMAC_MIN_KEY_BYTES = 32;
const HEX_RE = /^(?:[0-9a-f]{2})+$/;

/** SHA-256 hex of the SPKI DER of an Ed25519 public key. */
export function ed25519KeyId(publicKey: crypto.KeyObject): string {
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' }));
}

/** SHA-256 hex of the domain tag, 0x00 and the HMAC key bytes. */
export function hmacKeyId(key: Uint8Array): string {
  return sha256Hex(Buffer.concat([Buffer.from(HMAC_KEY_ID_TAG, 'utf8'), Buffer.from([0]), key]));
}

function readKeyFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw ledgerError('NOT_FOUND', `${what} ${file} does not exist`, { path: file });
    throw ledgerError('KEY_INVALID', `cannot read ${what} ${file}: ${(e as Error).message}`, { path: file });
  }
}

function requireEd25519(key: crypto.KeyObject, file: string): void {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw ledgerError('KEY_INVALID', `${file} holds a ${key.asymmetricKeyType ?? 'non-asymmetric'} key; export signing uses Ed25519 keys (lineage-ledger keygen)`, {
      path: file,
      keyType: key.asymmetricKeyType,
    });
  }
}

/** Parses an unencrypted PKCS#8 Ed25519 private key (PEM). */
export function parsePrivateKey(pem: string | Buffer, file = 'the key'): crypto.KeyObject {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    const msg = (e as Error).message;
    const hint = /passphrase/i.test(msg) ? ' (encrypted keys are not supported; use an unencrypted PKCS#8 key)' : '';
    throw ledgerError('KEY_INVALID', `${file} is not a PEM private key${hint}: ${msg}`, { path: file });
  }
  requireEd25519(key, file);
  return key;
}

/** Parses an Ed25519 public key (SPKI PEM); a private key PEM is accepted too and its public half used. */
export function parsePublicKey(pem: string | Buffer, file = 'the key'): crypto.KeyObject {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw ledgerError('KEY_INVALID', `${file} is not a PEM public key: ${(e as Error).message}`, { path: file });
  }
  requireEd25519(key, file);
  return key;
}

/** HMAC key bytes from a key file's content: one trailing line end removed, at least 32 bytes left. */
export function parseHmacKey(content: Buffer, file = 'the HMAC key'): Buffer {
  let end = content.length;
  if (end > 0 && content[end - 1] === 0x0a) {
    end--;
    if (end > 0 && content[end - 1] === 0x0d) end--;
  }
  const key = Buffer.from(content.subarray(0, end));
  // a PEM key given as an HMAC secret: a public key is public, so anyone could forge the signature
  if (/-----BEGIN [A-Z0-9 ]*(KEY|CERTIFICATE)-----/.test(key.toString('latin1'))) {
    throw ledgerError('KEY_INVALID', `${file} is a PEM key, not an HMAC secret; use --sign-key / --public-key for Ed25519 keys, and a random secret of at least ${HMAC_MIN_KEY_BYTES} bytes for HMAC`, {
      path: file,
    });
  }
  if (key.length < HMAC_MIN_KEY_BYTES) {
    throw ledgerError('KEY_INVALID', `${file} holds ${key.length} bytes; an HMAC-SHA256 key needs at least ${HMAC_MIN_KEY_BYTES}`, { path: file });
  }
  return key;
}

export function ed25519Signer(privateKey: crypto.KeyObject): Signer {
  const keyId = ed25519KeyId(crypto.createPublicKey(privateKey));
  return {
    algorithm: 'ed25519',
    keyId,
    sign: (message) => crypto.sign(null, message, privateKey).toString('hex'),
  };
}

export function ed25519Verifier(publicKey: crypto.KeyObject): SignatureVerifier {
  const keyId = ed25519KeyId(publicKey);
  return {
    algorithm: 'ed25519',
    keyId,
    verify: (message, signatureHex) => {
      if (signatureHex.length !== 128 || !HEX_RE.test(signatureHex)) return false;
      try {
        return crypto.verify(null, message, publicKey, Buffer.from(signatureHex, 'hex'));
      } catch {
        return false;
      }
    },
  };
}

/** HMAC-SHA256 signer and verifier in one (the same secret does both). */
export function hmacSigner(key: Uint8Array): Signer & SignatureVerifier {
  const k = Buffer.from(key);
  const keyId = hmacKeyId(k);
  const mac = (message: Uint8Array): Buffer => crypto.createHmac('sha256', k).update(message).digest();
  return {
    algorithm: 'hmac-sha256',
    keyId,
    sign: (message) => mac(message).toString('hex'),
    verify: (message, signatureHex) => {
      if (signatureHex.length !== 64 || !HEX_RE.test(signatureHex)) return false;
      return crypto.timingSafeEqual(mac(message), Buffer.from(signatureHex, 'hex'));
    },
  };
}

/** Loads a signer from `--sign-key <pem>` (Ed25519) or `--hmac-key <file>`; null when neither is given. */
export function loadSigner(opts: { signKey?: string; hmacKey?: string }): Signer | null {
  if (opts.signKey !== undefined && opts.hmacKey !== undefined) {
    throw ledgerError('INVALID_INPUT', 'give either --sign-key (Ed25519) or --hmac-key, not both', { path: 'signKey' });
  }
  if (opts.signKey !== undefined) return ed25519Signer(parsePrivateKey(readKeyFile(opts.signKey, 'signing key'), opts.signKey));
  if (opts.hmacKey !== undefined) return hmacSigner(parseHmacKey(readKeyFile(opts.hmacKey, 'HMAC key'), opts.hmacKey));
  return null;
}

/** Loads a verifier from `--public-key <pem>` or `--hmac-key <file>`; null when neither is given. */
export function loadVerifier(opts: { publicKey?: string; hmacKey?: string }): SignatureVerifier | null {
  if (opts.publicKey !== undefined && opts.hmacKey !== undefined) {
    throw ledgerError('INVALID_INPUT', 'give either --public-key (Ed25519) or --hmac-key, not both', { path: 'publicKey' });
  }
  if (opts.publicKey !== undefined) return ed25519Verifier(parsePublicKey(readKeyFile(opts.publicKey, 'public key'), opts.publicKey));
  if (opts.hmacKey !== undefined) return hmacSigner(parseHmacKey(readKeyFile(opts.hmacKey, 'HMAC key'), opts.hmacKey));
  return null;
}

export interface GeneratedKeyPair {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
  readonly keyId: string;
}

/** A fresh Ed25519 key pair (PKCS#8 / SPKI PEM) and its key id. */
export function generateEd25519KeyPair(): GeneratedKeyPair {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: ed25519KeyId(publicKey),
  };
}

/** Writes a new file, refusing to overwrite one that exists. */
function writeNewFile(file: string, content: string, mode: number): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', mode);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw ledgerError('INVALID_INPUT', `${file} already exists; keygen never overwrites a key`, { path: file });
    if (code === 'ENOENT') throw ledgerError('NOT_FOUND', `cannot write ${file}: its directory does not exist`, { path: file });
    throw ledgerError('KEY_INVALID', `cannot write ${file}: ${(e as Error).message}`, { path: file });
  }
  try {
    fs.writeSync(fd, content);
    fs.fchmodSync(fd, mode);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export interface KeygenResult {
  readonly algorithm: 'ed25519' | 'hmac-sha256';
  readonly keyId: string;
  /** Files written: [private, public] for Ed25519, [key] for HMAC. */
  readonly files: readonly string[];
}

/**
 * Writes `<prefix>.key.pem` (PKCS#8, mode 0600) and `<prefix>.pub.pem` (SPKI), or with `hmac`
 * `<prefix>.hmac.key` (64 hex characters, mode 0600). Refuses to overwrite any existing file
 * (checked for every file before anything is written).
 */
export function writeKeyFiles(prefix: string, options: { hmac?: boolean } = {}): KeygenResult {
  if (options.hmac === true) {
    const file = `${prefix}.hmac.key`;
    if (fs.existsSync(file)) throw ledgerError('INVALID_INPUT', `${file} already exists; keygen never overwrites a key`, { path: file });
    const keyText = crypto.randomBytes(32).toString('hex');
    writeNewFile(file, `${keyText}\n`, 0o600);
    return { algorithm: 'hmac-sha256', keyId: hmacKeyId(Buffer.from(keyText, 'utf8')), files: [file] };
  }
  const priv = `${prefix}.key.pem`;
  const pub = `${prefix}.pub.pem`;
  for (const f of [priv, pub]) if (fs.existsSync(f)) throw ledgerError('INVALID_INPUT', `${f} already exists; keygen never overwrites a key`, { path: f });
  const pair = generateEd25519KeyPair();
  writeNewFile(priv, pair.privateKeyPem, 0o600);
  writeNewFile(pub, pair.publicKeyPem, 0o644);
  return { algorithm: 'ed25519', keyId: pair.keyId, files: [priv, pub] };
}
