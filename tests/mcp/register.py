"""The Python MCP SDK's own discovery and dynamic client registration
(`mcp.client.auth.utils`, as its OAuthClientProvider uses them) against a
running dcr-local.

    python register.py BASE_URL expect-ok|expect-refused
"""

import asyncio
import sys

import httpx2
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    create_client_registration_request,
    create_oauth_metadata_request,
    handle_auth_metadata_response,
    handle_registration_response,
)
from mcp.shared.auth import OAuthClientMetadata


def fail(message: str) -> None:
    print(f"python sdk: {message}", file=sys.stderr)
    sys.exit(1)


async def main(base: str, expectation: str) -> None:
    async with httpx2.AsyncClient() as http:
        metadata = None
        for url in build_oauth_authorization_server_metadata_discovery_urls(base, base):
            response = await http.send(create_oauth_metadata_request(url))
            go_on, metadata = await handle_auth_metadata_response(response)
            if metadata is not None or not go_on:
                break
        if expectation == "expect-refused":
            if metadata is not None:
                fail("discovery accepted a document without the MCP recipe")
            print("python sdk: discovery refused as expected (no authorization and token endpoints)")
            return
        if metadata is None:
            fail("discovery found no usable authorization server metadata")
        client = OAuthClientMetadata(
            redirect_uris=["http://localhost:3030/callback"],
            token_endpoint_auth_method="none",
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            client_name="MCP Python SDK check",
        )
        request = create_client_registration_request(metadata, client, base)
        info = await handle_registration_response(await http.send(request))
        if not info.client_id or info.client_secret is not None:
            fail(f"unexpected client information: {info}")
        print(f"python sdk: registered {info.client_id} via {metadata.registration_endpoint}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
