// The benchmark's peer: oidc-provider (pinned in package.json / package-lock.json)
// with dynamic registration (RFC 7591) and registration management (RFC 7592) on,
// its default in-memory adapter, on plain node http bound to loopback.
//
// usage: node server.mjs PORT   (prints "listening on http://127.0.0.1:PORT" when ready)
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 3001);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  routes: { registration: '/register' },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    // Same behaviour as dcr-local's default (`rotate_on_update: false`).
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
  },
});
// Quiet: no per-request logging on either engine.
provider.on('server_error', (ctx, err) => console.error('server_error', err.message));

http.createServer(provider.callback()).listen(port, '127.0.0.1', () => {
  console.log(`listening on ${issuer}`);
});
