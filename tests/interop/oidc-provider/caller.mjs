// A foreign caller for clientcreds' interop test: panva's openid-client
// (pinned in package.json) gets a token from the reference server with
// private_key_jwt (RFC 7523), through RFC 8414 discovery, and prints the
// token response as JSON on stdout. examples/server/tests/interop_callers.rs
// runs it.
//
// Environment: CC_ISSUER (the server's issuer URL, plain http on loopback),
// CC_CLIENT_ID, CC_KEY_JWK (the private key as a JWK) or CC_KEY_PKCS8
// (base64 DER),
// CC_KEY_ALG (`Ed25519` or `ES256`), CC_KEY_KID (its registered kid).
import { createPrivateKey } from 'node:crypto';
import * as client from 'openid-client';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`caller.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

const algorithms = {
  Ed25519: { name: 'Ed25519' },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
};
const algorithm = algorithms[env('CC_KEY_ALG')];
if (!algorithm) {
  console.error('caller.mjs: CC_KEY_ALG must be Ed25519 or ES256');
  process.exit(2);
}
// The key as a private JWK (CC_KEY_JWK), or PKCS#8 DER read by OpenSSL.
const jwk = process.env.CC_KEY_JWK
  ? JSON.parse(process.env.CC_KEY_JWK)
  : createPrivateKey({
      key: Buffer.from(env('CC_KEY_PKCS8'), 'base64'),
      format: 'der',
      type: 'pkcs8',
    }).export({ format: 'jwk' });
const key = await crypto.subtle.importKey('jwk', jwk, algorithm, false, ['sign']);

try {
  const config = await client.discovery(
    new URL(env('CC_ISSUER')),
    env('CC_CLIENT_ID'),
    undefined,
    client.PrivateKeyJwt({ key, kid: env('CC_KEY_KID') }),
    { algorithm: 'oauth2', execute: [client.allowInsecureRequests] },
  );
  const tokens = await client.clientCredentialsGrant(config);
  process.stdout.write(JSON.stringify(tokens));
} catch (error) {
  console.error(`caller.mjs: ${error.name}: ${error.message} ${JSON.stringify(error.cause ?? null)}`);
  process.exit(1);
}
