// The TypeScript MCP SDK's own discovery and dynamic client registration
// (@modelcontextprotocol/sdk, client/auth.js) against a running dcr-local.
//
//   node register.mjs BASE_URL expect-ok|expect-refused
//
// expect-ok: discovery finds the authorization and token endpoints, and
// registerClient gets a public client. expect-refused: without them (no MCP
// recipe in the config), the SDK refuses the discovery document.
import {
  discoverAuthorizationServerMetadata,
  registerClient,
} from "@modelcontextprotocol/sdk/client/auth.js";

const [base, expectation] = process.argv.slice(2);
const fail = (message) => {
  console.error(`typescript sdk: ${message}`);
  process.exit(1);
};

let metadata;
try {
  metadata = await discoverAuthorizationServerMetadata(new URL(base));
} catch (e) {
  if (expectation === "expect-refused") {
    const missing = (e.issues ?? []).map((i) => i.path.join(".")).join(", ");
    console.log(`typescript sdk: discovery refused as expected (missing: ${missing || e.message})`);
    process.exit(0);
  }
  fail(`discovery failed: ${e}`);
}
if (expectation === "expect-refused") fail("discovery accepted a document without the MCP recipe");
for (const key of ["authorization_endpoint", "token_endpoint", "registration_endpoint"]) {
  if (!metadata?.[key]) fail(`discovery has no ${key}: ${JSON.stringify(metadata)}`);
}

// What an MCP client (e.g. MCP Inspector) registers: a public client with PKCE.
const info = await registerClient(new URL(base), {
  metadata,
  clientMetadata: {
    redirect_uris: ["http://localhost:6274/oauth/callback"],
    token_endpoint_auth_method: "none",
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    client_name: "MCP TypeScript SDK check",
  },
}).catch((e) => fail(`registration failed: ${e}`));
if (!info.client_id || info.client_secret !== undefined) {
  fail(`unexpected client information: ${JSON.stringify(info)}`);
}
console.log(`typescript sdk: registered ${info.client_id} via ${metadata.registration_endpoint}`);
