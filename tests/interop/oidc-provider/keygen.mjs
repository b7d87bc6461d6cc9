// Writes a fresh private JWKS (one RS256 key, a random kid) to the path
// given as the only argument, for server.mjs --jwks. The key is a test key
// of a throwaway issuer; it never leaves the test's temporary folder.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const [out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node keygen.mjs OUT.json');
  process.exit(2);
}
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
writeFileSync(out, JSON.stringify({ keys: [jwk] }), { mode: 0o600 });
