// gitops-monitor: the seminar's dashboard, showing which build runs where.
const express = require('express');
const os = require('node:os');
const path = require('node:path');

const started = Date.now();

function info(env = process.env) {
  return {
    version: env.APP_VERSION || 'dev',
    environment: env.APP_ENVIRONMENT || 'local',
    pod: env.POD_NAME || os.hostname(),
    uptimeSeconds: Math.round((Date.now() - started) / 1000),
  };
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function createApp() {
  const app = express();
  const requests = new Map(); // "method status" -> count
  let durationSum = 0;

  app.use((req, res, next) => {
    const begin = process.hrtime.bigint();
    res.on('finish', () => {
      const key = `${req.method} ${res.statusCode}`;
      requests.set(key, (requests.get(key) || 0) + 1);
      durationSum += Number(process.hrtime.bigint() - begin) / 1e9;
    });
    next();
  });
  app.use(express.static(path.join(__dirname, 'public')));

  app.get('/', (req, res) => {
    const i = info();
    res.type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>gitops-monitor</title><link rel="stylesheet" href="/style.css"></head><body><main>
<h1>gitops-monitor</h1><dl>
<dt>version</dt><dd id="version">${escape(i.version)}</dd>
<dt>environment</dt><dd id="environment">${escape(i.environment)}</dd>
<dt>pod</dt><dd id="pod">${escape(i.pod)}</dd>
<dt>uptime</dt><dd id="uptime">${i.uptimeSeconds}s</dd>
</dl></main></body></html>`);
  });
  app.get('/api/info', (req, res) => res.json(info()));
  app.get('/healthz', (req, res) => res.type('text').send('ok\n'));
  app.get('/readyz', (req, res) => res.type('text').send('ok\n'));
  app.get('/metrics', (req, res) => {
    const lines = ['# HELP http_requests_total Requests served, by method and status.', '# TYPE http_requests_total counter'];
    for (const [key, n] of requests) {
      const [method, status] = key.split(' ');
      lines.push(`http_requests_total{method="${method}",status="${status}"} ${n}`);
    }
    lines.push('# HELP http_request_duration_seconds_sum Time spent serving requests.', '# TYPE http_request_duration_seconds_sum counter');
    lines.push(`http_request_duration_seconds_sum ${durationSum}`);
    lines.push('# HELP app_uptime_seconds Seconds since the process started.', '# TYPE app_uptime_seconds gauge');
    lines.push(`app_uptime_seconds ${(Date.now() - started) / 1000}`);
    const i = info();
    lines.push('# HELP app_info The running build.', '# TYPE app_info gauge');
    lines.push(`app_info{version="${i.version}",environment="${i.environment}"} 1`);
    res.type('text/plain; version=0.0.4').send(lines.join('\n') + '\n');
  });
  return app;
}

if (require.main === module) {
  const port = Number(process.env.PORT) || 3000;
  createApp().listen(port, () => console.log(`gitops-monitor listening on ${port}`));
}

module.exports = { createApp, info };
