// gitops-monitor: a small dashboard that shows which build runs where.
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const started = Date.now();
const info = {
  version: process.env.APP_VERSION || 'dev',
  environment: process.env.APP_ENVIRONMENT || 'local',
  pod: process.env.POD_NAME || require('node:os').hostname(),
};
let requests = 0;

const css = fs.readFileSync(path.join(__dirname, 'public', 'style.css'));

function page() {
  const uptime = Math.round((Date.now() - started) / 1000);
  return `<!doctype html><html><head><meta charset="utf-8"><title>gitops-monitor</title>
<link rel="stylesheet" href="/style.css"></head><body><main>
<h1>gitops-monitor</h1>
<dl><dt>version</dt><dd>${info.version}</dd><dt>environment</dt><dd>${info.environment}</dd>
<dt>pod</dt><dd>${info.pod}</dd><dt>uptime</dt><dd>${uptime}s</dd></dl>
</main></body></html>`;
}

const server = http.createServer((req, res) => {
  requests++;
  switch (req.url) {
    case '/healthz':
    case '/readyz':
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    case '/metrics':
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(
        `# TYPE http_requests_total counter\nhttp_requests_total ${requests}\n` +
        `# TYPE app_uptime_seconds gauge\napp_uptime_seconds ${(Date.now() - started) / 1000}\n`);
      return;
    case '/style.css':
      res.writeHead(200, { 'content-type': 'text/css' }).end(css);
      return;
    case '/':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page());
      return;
    default:
      res.writeHead(404).end('not found\n');
  }
});

if (require.main === module) {
  server.listen(Number(process.env.PORT) || 3000);
}
module.exports = { server };
