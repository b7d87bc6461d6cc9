// A foreign DPoP caller for clientcreds' interop test: panva's
// openid-client (pinned in package.json) gets a DPoP-bound token from the
// reference server (client_secret_post, a fresh ES256 DPoP key, the
// use_dpop_nonce retry when the server asks) and, when CC_API_URL is set,
// calls that protected resource with the token and a proof
// (fetchProtectedResource). Prints {token_type, api_status, api_body} as
// JSON. examples/server/tests/interop_callers.rs runs it.
//
// Environment: CC_ISSUER, CC_CLIENT_ID, CC_CLIENT_SECRET, CC_API_URL.
import * as client from 'openid-client';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`caller-dpop.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

try {
  const config = await client.discovery(
    new URL(env('CC_ISSUER')),
    env('CC_CLIENT_ID'),
    env('CC_CLIENT_SECRET'),
    undefined,
    { algorithm: 'oauth2', execute: [client.allowInsecureRequests] },
  );
  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  const tokens = await client.clientCredentialsGrant(config, {}, { DPoP });
  const result = { token_type: tokens.token_type };
  if (process.env.CC_API_URL) {
    const response = await client.fetchProtectedResource(
      config,
      tokens.access_token,
      new URL(process.env.CC_API_URL),
      'GET',
      undefined,
      undefined,
      { DPoP },
    );
    result.api_status = response.status;
    result.api_body = await response.json();
  }
  process.stdout.write(JSON.stringify(result));
} catch (error) {
  console.error(`caller-dpop.mjs: ${error.name}: ${error.message} ${JSON.stringify(error.cause ?? null)}`);
  process.exit(1);
}
