// A foreign issuer for clientcreds' interop test
// (crates/clientcreds-resource/tests/foreign_issuer.rs): panva's
// oidc-provider, as pinned in package-lock.json, on plain http on loopback.
//
//   node server.mjs --jwks KEYS.json [--port N]
//
// - Signs with the private JWKS in KEYS.json (keygen.mjs writes one), so a
//   restart with another file is a key rotation under a new kid.
// - Listens on 127.0.0.1:N (0 or absent: a free port) and prints one JSON
//   line to stdout when ready: {"issuer": "http://127.0.0.1:PORT", ...}.
//   The issuer URL is exactly the one the metadata and the tokens name.
// - One confidential client (client_secret_basic) with the
//   client_credentials grant only; see CLIENT below.
// - Resource indicators (RFC 8707): a client_credentials token for
//   API is a JWT access token (RFC 9068, header typ at+jwt) with
//   aud = API; one for TYP_JWT_API is the same but with header typ JWT, as
//   several large issuers label their access tokens.
// - GET /_interop/token-requests answers how many token requests arrived
//   (the test checks the caller's cache against it).
// - Exits when its stdin closes, so that it never outlives the test.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

export const API = 'https://api.example.com';
export const TYP_JWT_API = 'https://typ-jwt.example.com';
export const CLIENT = { id: 'interop-client', secret: 'interop-secret-that-is-long-enough-0123456789' };
export const SCOPE = 'api:read';

const { values } = parseArgs({
  options: {
    jwks: { type: 'string' },
    port: { type: 'string', default: '0' },
  },
});
if (!values.jwks) {
  console.error('usage: node server.mjs --jwks KEYS.json [--port N]');
  process.exit(2);
}
const jwks = JSON.parse(readFileSync(values.jwks, 'utf8'));

let tokenRequests = 0;
let provider;
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/_interop/token-requests') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ count: tokenRequests }));
    return;
  }
  if (req.method === 'POST' && req.url === '/token') {
    tokenRequests += 1;
  }
  provider.callback()(req, res);
});

server.listen(Number(values.port), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  provider = new Provider(issuer, {
    jwks,
    clients: [{
      client_id: CLIENT.id,
      client_secret: CLIENT.secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPE,
    }],
    scopes: [SCOPE],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo(_ctx, resource) {
          if (resource !== API && resource !== TYP_JWT_API) {
            throw new Provider.errors.InvalidTarget();
          }
          return {
            scope: SCOPE,
            audience: resource,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    formats: {
      customizers: {
        // oidc-provider signs with header typ at+jwt; this overrides it
        // for the one resource that stands for typ-JWT issuers.
        jwt(_ctx, token, jwt) {
          if (token.resourceServer?.audience === TYP_JWT_API) {
            jwt.header = { typ: 'JWT' };
          }
        },
      },
    },
    ttl: { ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 300 },
    cookies: { keys: ['interop-cookie-key-not-a-secret'] },
  });
  provider.proxy = false;
  process.stdout.write(`${JSON.stringify({ issuer, port, kid: jwks.keys[0]?.kid })}\n`);
});

server.on('error', (error) => {
  console.error(`oidc-provider server: ${error.message}`);
  process.exit(1);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
