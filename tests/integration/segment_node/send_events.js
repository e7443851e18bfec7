// Sends Segment calls to Handoff through Segment's official Node.js library,
// @segment/analytics-node, unchanged: the integration test segment_node_test.cc runs it with
// NODE_PATH pointing at the copy it installed from the npm registry.
//
// Usage: node send_events.js CONFIG.json
// CONFIG: {"host": "http://127.0.0.1:PORT", "writeKey": "KEY",
//          "options": {any further Analytics settings: path, flushAt, maxEventsInBatch, ...},
//          "calls": [{"method": "identify" | "track" | "page" | "screen" | "group" | "alias",
//                     "params": {the method's parameters}}, ...]}
// Prints one JSON line: {"statuses": [HTTP status of each request], "paths": [its URL path],
// "delivered": N, "failed": N, "errors": [text]} and exits 0 only when every call was delivered.
'use strict';

const fs = require('fs');
const { Analytics } = require('@segment/analytics-node');

async function main() {
  const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const analytics = new Analytics({
    writeKey: config.writeKey,
    host: config.host,
    maxRetries: 2,
    httpRequestTimeout: 10000,
    ...config.options,
  });
  const result = { statuses: [], paths: [], delivered: 0, failed: 0, errors: [] };
  // Observe each request the library makes (it calls globalThis.fetch at send time, in 2.x and
  // 3.x alike); the request and the response pass through untouched.
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url, init) => {
    result.paths.push(new URL(url).pathname);
    const response = await realFetch(url, init);
    result.statuses.push(response.status);
    return response;
  };
  analytics.on('error', (e) => result.errors.push(String(e.reason || e.code || e)));

  for (const call of config.calls) {
    analytics[call.method](call.params, (err) => {
      if (err) {
        result.failed += 1;
        result.errors.push(String(err.reason || err.message || err));
      } else {
        result.delivered += 1;
      }
    });
  }
  await analytics.closeAndFlush({ timeout: 30000 });
  console.log(JSON.stringify(result));
  const ok = result.delivered === config.calls.length && result.errors.length === 0;
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
