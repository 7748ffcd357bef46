import assert from 'node:assert/strict';
import { test } from 'node:test';
import { banner } from './server.ts';

const url = 'http://127.0.0.1:8080';
const web = { oidc: false, allowedHosts: [] };
const auth = { enabled: false, insecure: false, adminToken: undefined, adminTokenFile: '/home/admin-token' };

test('the banner gives the console URL and a curl line only when the example is deployed', () => {
  const deployed = banner({ url, grpcPort: 8081, seededNow: false, exampleDeployed: true, row: [1, 2], auth, web });
  assert.match(deployed, /Console: +http:\/\/127\.0\.0\.1:8080\//);
  assert.match(deployed, /The example model `fraud` is deployed as the deployment `fraud`\. Try it:/);
  assert.match(deployed, /curl -s http:\/\/127\.0\.0\.1:8080\/v2\/models\/fraud\/infer .*"data":\[1,2\]/);

  const none = banner({ url, grpcPort: 8081, seededNow: false, exampleDeployed: false, row: [1, 2], auth, web });
  assert.doesNotMatch(none, /curl/);
  assert.doesNotMatch(none, /fraud/);
  assert.match(none, /No example is deployed/);
});

test('with auth on, the curl line sends the admin token file and the banner says auth is on', () => {
  const text = banner({
    url,
    grpcPort: 8081,
    seededNow: true,
    exampleDeployed: true,
    row: [1, 2],
    auth: { ...auth, enabled: true, adminToken: 'mp_secret' },
    web,
  });
  assert.match(text, /Auth: +on/);
  assert.match(text, /-H "authorization: Bearer \$\(cat \/home\/admin-token\)"/);
  assert.match(text, /\n {4}mp_secret\n/);
});
