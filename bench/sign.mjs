// Makes the software statement fixtures with node's crypto (no extra package):
// an ES256 directory key, its JWK Set, and N pre-signed statements, one
// registration body per line.
//
// usage: node sign.mjs OUT_DIR N ISSUER
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';

const [outDir, n = '64', iss = 'https://directory.bench.example'] = process.argv.slice(2);
mkdirSync(outDir, { recursive: true });
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const kid = 'bench-directory-1';
const jwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'ES256' };
writeFileSync(`${outDir}/jwks.json`, JSON.stringify({ keys: [jwk] }));

const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const lines = [];
for (let i = 0; i < Number(n); i++) {
  const header = { alg: 'ES256', typ: 'JWT', kid };
  const claims = {
    iss, iat: now, exp: now + 3600, jti: `bench-ssa-${i}`,
    software_id: `bench-software-${i}`, client_name: `Bench App ${i}`,
    redirect_uris: ['https://app.example.com/cb'],
  };
  const input = `${b64(header)}.${b64(claims)}`;
  const sig = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const statement = `${input}.${sig.toString('base64url')}`;
  lines.push(JSON.stringify({ redirect_uris: ['https://app.example.com/cb'], software_statement: statement }));
}
writeFileSync(`${outDir}/ssa-bodies.txt`, lines.join('\n') + '\n');
console.log(`${n} statements signed by ${kid}`);
