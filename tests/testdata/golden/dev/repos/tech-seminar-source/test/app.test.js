// The dashboard's own tests: node --test.
const test = require('node:test');
const assert = require('node:assert/strict');
const { createApp, info } = require('../src/index.js');

async function withServer(fn) {
  const server = createApp().listen(0);
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    await fn(base);
  } finally {
    server.close();
  }
}

test('info reads version, environment and pod from the environment', () => {
  const i = info({ APP_VERSION: 'sha-1a2b3c4', APP_ENVIRONMENT: 'staging', POD_NAME: 'pod-1' });
  assert.equal(i.version, 'sha-1a2b3c4');
  assert.equal(i.environment, 'staging');
  assert.equal(i.pod, 'pod-1');
  assert.ok(i.uptimeSeconds >= 0);
});

test('the page shows the build and escapes what it shows', async () => {
  process.env.APP_VERSION = '<b>x</b>';
  try {
    await withServer(async (base) => {
      const res = await fetch(base + '/');
      assert.equal(res.status, 200);
      const body = await res.text();
      assert.match(body, /<dd id="version">&#60;b&#62;x&#60;\/b&#62;<\/dd>/);
      assert.doesNotMatch(body, /<b>x<\/b>/);
    });
  } finally {
    delete process.env.APP_VERSION;
  }
});

test('health and readiness answer ok', async () => {
  await withServer(async (base) => {
    for (const p of ['/healthz', '/readyz']) {
      const res = await fetch(base + p);
      assert.equal(res.status, 200, p);
      assert.equal(await res.text(), 'ok\n');
    }
  });
});

test('metrics count requests in the Prometheus text format', async () => {
  await withServer(async (base) => {
    await fetch(base + '/healthz');
    await fetch(base + '/nope');
    const res = await fetch(base + '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain;.*version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /^http_requests_total\{method="GET",status="200"\} 1$/m);
    assert.match(text, /^http_requests_total\{method="GET",status="404"\} 1$/m);
    assert.match(text, /^# TYPE app_uptime_seconds gauge$/m);
  });
});

test('the stylesheet is served', async () => {
  await withServer(async (base) => {
    const res = await fetch(base + '/style.css');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/css/);
  });
});
