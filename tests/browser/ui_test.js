// Browser test of the web UI (/ui/): Debian's chromium, driven by playwright-core, against a real
// handoffd this script starts itself (free ports, a temp data dir, a rules file with a routing
// team, an admin token).
//
//   node tests/browser/ui_test.js [BUILD_DIR]      (BUILD_DIR: $HANDOFF_BINARY_DIR, else build/)
//   tools/dev.sh browser                           (installs chromium and playwright-core first)
//
// Exit codes: 0 passed, 1 failed, 77 skipped (no chromium, or playwright-core not installed:
// `npm ci` in tests/browser). Screenshots of every page go to BUILD_DIR/browser-screenshots/.
// Like the C++ integration tests it waits for what it expects with generous deadlines and asserts
// no timings; it prints how long the live inbox took to show a routed lead.
'use strict';

const assert = require('node:assert/strict');
const {spawn} = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const SKIP = 77;
const repo = path.resolve(__dirname, '..', '..');
const buildDir = path.resolve(process.argv[2] || process.env.HANDOFF_BINARY_DIR || path.join(repo, 'build'));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const DEADLINE_MS = 20000;
const TOKEN = 'ui-test-token';

let chromium;
try {
  ({chromium} = require('playwright-core'));
} catch {
  console.log('SKIP: playwright-core is not installed (run `npm ci` in tests/browser, or tools/dev.sh browser)');
  process.exit(SKIP);
}
if (!fs.existsSync(chromiumPath)) {
  console.log(`SKIP: no chromium at ${chromiumPath} (tools/setup.sh browser installs Debian's)`);
  process.exit(SKIP);
}

// A routing team with one rep, so every qualified lead goes to alice; SLA 10 minutes.
const RULES = `scores:
  engagement: {kind: event}
rules:
  - id: pricing-page
    score: engagement
    when: event == "Pricing Viewed"
    points: 30
  - id: demo-request
    score: engagement
    when: event == "Demo Requested"
    points: 100
stages:
  - name: sql
    enter: score.engagement >= 100
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 2}
  teams:
    - id: sales
      when: true
      strategy: round_robin
      reps: [{id: alice}]
`;

// A rule file with errors on two lines (an unknown score, an expression cut short).
const BAD_RULES = `scores:
  engagement: {kind: event}
rules:
  - id: r1
    score: nosuch
    when: event == "X"
    points: 5
  - id: r2
    score: engagement
    when: event ==
    points: 1
`;

function startDaemon(dir) {
  const rulesPath = path.join(dir, 'rules.yaml');
  fs.writeFileSync(rulesPath, RULES);
  const child = spawn(path.join(buildDir, 'handoffd'), [
    '--data-dir', path.join(dir, 'data'), '--rules', rulesPath, '--admin-token', TOKEN,
    '--ingest', '127.0.0.1:0', '--subscribe', '127.0.0.1:0', '--http', '127.0.0.1:0',
  ], {stdio: ['ignore', 'pipe', 'pipe']});
  const ports = {};
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('handoffd did not start:\n' + log)), DEADLINE_MS);
    const onData = (chunk) => {
      log += chunk;
      for (const m of log.matchAll(/(ingest|subscribe|http) listening on [^\s]*:(\d+)/g)) ports[m[1]] = Number(m[2]);
      if (ports.ingest && ports.http) {
        clearTimeout(timer);
        resolve({child, ports, log: () => log});
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`handoffd exited (${code}):\n${log}`)));
  });
}

// SIGTERM, then waits for the exit (SIGKILL after the deadline), so the data dir can go.
function stopDaemon(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

// Sends NDJSON events over TCP ingest and waits for the ack of every line.
function sendEvents(port, events) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      buf += d;
      for (const line of buf.split('\n')) {
        if (line.startsWith('{"error"')) reject(new Error('ingest refused: ' + line));
        const m = /^\{"ack":(\d+)\}$/.exec(line);
        if (m && Number(m[1]) >= events.length) { socket.end(); resolve(); }
      }
    });
    socket.on('error', reject);
    socket.write(events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  });
}

async function apiGet(port, p, token = TOKEN) {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, {headers: {Authorization: 'Bearer ' + token}});
  return {status: res.status, json: await res.json().catch(() => null)};
}

// The candidate: sql from 30 points, so a lead that only viewed pricing reaches sql. Only the stage
// changes, so applying it (which re-evaluates stages on the scores as they are, no replay) moves
// that lead too.
const CANDIDATE = RULES.replace('score.engagement >= 100', 'score.engagement >= 30');

async function apiPost(port, p, body) {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, {method: 'POST', body, headers: {Authorization: 'Bearer ' + TOKEN}});
  return {status: res.status, json: await res.json().catch(() => null)};
}

// A finished backtest as the API answers it (SPEC 13), for the scripted run.
const SCRIPTED_RESULT = {
  id: '7', state: 'done', progress: 1, at: '2026-12-01T10:00:00.000Z', since: null, leads: 1200, events: 34000,
  stages: {now: {new: 1000, mql: 150, sql: 50}, candidate: {new: 900, mql: 220, sql: 80}},
  changes: {'new>mql': 100, 'mql>sql': 30},
  examples: [{lead: 'u 9', from: 'mql', to: 'sql', scores: {now: {engagement: 80}, candidate: {engagement: 120}},
    breakdown: {candidate: {engagement: [{rule: 'pricing-page', points: 100}, {rule: 'unsubscribed', points: -5}]}}}],
  rules: [{rule: 'pricing-page', score: 'engagement', now: 1500, candidate: 5000},
    {rule: 'demo-request', score: 'engagement', now: 900, candidate: 900}],
  routing: {stage: 'sql', teams: {sales: 80}, reps: {alice: 79}, queued: 1, unrouted: 0},
  histograms: [{score: 'engagement', bucket_width: 10, now: [600, 400, 150, 50], candidate: [500, 420, 200, 80]}],
  undecodable: 0,
  elapsed_ms: 1500,
};

// The backtest page with the daemon's answers scripted (page.route), so the progress bar can be
// held at 40% and every part of the report checked against known numbers.
async function backtestScriptedSteps(page, base, shots) {
  let finish = false;
  const requests = [];
  const json = (route, status, body) => route.fulfill({status, contentType: 'application/json', body: JSON.stringify(body)});
  await page.route('**/v1/rules/backtest?*', (route) => {
    requests.push(`${route.request().method()} ${new URL(route.request().url()).search} ${route.request().postData()}`);
    return json(route, 202, {id: '7', state: 'queued', progress: 0});
  });
  await page.route('**/v1/rules/backtest/7', (route) => json(route, 200,
    finish ? SCRIPTED_RESULT : {id: '7', state: 'running', progress: 0.4}));
  await page.route('**/v1/rules/apply', (route) => {
    requests.push(`APPLY ${route.request().postData()}`);
    return json(route, 200, {ok: true, version: 9, leads: 1200, changed: 130});
  });
  try {
    await page.goto(`${base}/ui/#/backtest`);
    await page.fill('#bt-text', CANDIDATE);
    await page.fill('#bt-since', '2026-11-01T00:00:00Z');
    await page.click('#bt-run');
    await page.waitForFunction(() => document.querySelector('#bt-progress').getAttribute('aria-valuenow') === '40', null, {timeout: DEADLINE_MS});
    assert.ok(await page.locator('#bt-progress').isVisible());
    assert.ok(await page.isDisabled('#bt-run'), 'one backtest at a time');
    assert.ok(await page.isDisabled('#bt-apply'), 'nothing to apply before the result');
    assert.match(await page.locator('#bt-status').innerText(), /running/);
    assert.equal(requests[0], `POST ?wait=0&since=2026-11-01T00%3A00%3A00Z ${CANDIDATE}`);
    finish = true;
    await page.locator('#bt-stages [data-bt-stage]').first().waitFor({timeout: DEADLINE_MS});
    assert.ok(await page.locator('#bt-progress').isHidden());
    assert.deepEqual(await page.$$eval('#bt-stages [data-delta]', (tds) => tds.map((td) => [td.dataset.delta, td.dataset.value, td.className])),
      [['stage.new', '-100', 'n down'], ['stage.mql', '70', 'n up'], ['stage.sql', '30', 'n up']]);
    assert.equal(await page.locator('svg [data-bt-bar="mql.now"]').textContent(), '150');
    assert.equal(await page.locator('svg [data-bt-bar="mql.candidate"]').textContent(), '220');
    assert.equal(await page.locator('#bt-changes [data-bt-change="new>mql"]').innerText(), 'new → mql\t100');
    assert.equal(await page.locator('#bt-rules [data-delta="rule.pricing-page"]').innerText(), '+3,500');
    assert.equal(await page.locator('#bt-rules [data-delta="rule.demo-request"]').innerText(), '0');
    assert.equal(await page.locator('#bt-teams [data-bt-team="sales"] [data-value]').innerText(), '80');
    assert.equal(await page.locator('#bt-reps [data-bt-rep="alice"] [data-value]').innerText(), '79');
    assert.equal(await page.locator('#bt-routing-note').innerText(), 'queued 1 · unrouted 0');
    const example = page.locator('[data-bt-example="u 9"]');
    assert.equal(await example.locator('a').getAttribute('href'), '#/lead?id=u%209');
    assert.match(await example.innerText(), /pricing-page \+100, unsubscribed -5/);
    assert.equal(await page.locator('[data-bt-histogram="engagement"] svg rect').count(), 8, 'four buckets, now and candidate');
    await page.screenshot({path: path.join(shots, 'backtest-scripted.png'), fullPage: true});
    // Editing the text after the backtest turns Apply off until it is backtested again.
    assert.ok(await page.isEnabled('#bt-apply'));
    await page.fill('#bt-text', CANDIDATE + '# edited\n');
    assert.ok(await page.isDisabled('#bt-apply'));
    await page.fill('#bt-text', CANDIDATE);
    finish = false;
    await page.click('#bt-run');
    finish = true;
    await page.waitForFunction(() => !document.querySelector('#bt-apply').disabled, null, {timeout: DEADLINE_MS});
    page.once('dialog', (d) => d.accept());
    await page.click('#bt-apply');
    await page.locator('#bt-status').getByText('applied: rules version 9; 130 of 1,200 leads changed stage').waitFor({timeout: DEADLINE_MS});
    assert.equal(requests[requests.length - 1], `APPLY ${CANDIDATE}`);
  } finally {
    await page.unrouteAll();
  }
}

// The backtest page (ui/assets/backtest.js) against POST /v1/rules/backtest and /v1/rules/apply.
// Skipped, with a note, while the daemon has no backtest endpoint.
async function backtestSteps(page, base, ports, shots) {
  const probe = await apiPost(ports.http, '/v1/rules/backtest?wait=0', BAD_RULES);
  if (probe.status !== 422) {
    console.log(`   NOTE: POST /v1/rules/backtest answered ${probe.status} to a bad rule file; the backtest checks are skipped in this build`);
    return;
  }
  // u3 only viewed pricing: stage new now, sql under the candidate.
  await sendEvents(ports.ingest, [
    {type: 'identify', userId: 'u3', traits: {email: 'cy@initech.com'}, messageId: 'm7'},
    {type: 'track', userId: 'u3', event: 'Pricing Viewed', messageId: 'm8'},
  ]);

  // The dashboard's rules box hands its text to the backtest page.
  await page.goto(`${base}/ui/#/dashboard`);
  await page.fill('#rules-text', BAD_RULES);
  await page.click('#rules-backtest');
  await page.locator('#bt-run').waitFor({timeout: DEADLINE_MS});
  assert.equal(await page.inputValue('#bt-text'), BAD_RULES);

  // A bad file: validate's errors, marked at their lines; Apply stays off.
  await page.click('#bt-run');
  await page.locator('#bt-errors li').first().waitFor({timeout: DEADLINE_MS});
  const expected = probe.json.errors.map((e) => `${e.line}:${e.col}`);
  assert.deepEqual(await page.$$eval('#bt-errors li', (lis) => lis.map((li) => `${li.dataset.line}:${li.dataset.col}`)), expected);
  const marked = await page.$$eval('#bt-lines .bad[data-line-no]', (els) => els.map((el) => el.dataset.lineNo));
  assert.deepEqual([...new Set(marked)], [...new Set(expected.map((e) => e.split(':')[0]))]);
  assert.ok(await page.isDisabled('#bt-apply'));

  // The candidate, picked as a file.
  await page.setInputFiles('#bt-file', {name: 'candidate.yaml', mimeType: 'text/yaml', buffer: Buffer.from(CANDIDATE)});
  await page.waitForFunction(() => document.querySelector('#bt-text').value.includes('>= 30'), null, {timeout: DEADLINE_MS});
  await page.click('#bt-run');
  await page.locator('#bt-stages [data-bt-stage]').first().waitFor({timeout: DEADLINE_MS});
  assert.equal(await page.locator('#bt-errors li').count(), 0);
  assert.ok(await page.locator('#bt-progress').isHidden(), 'the progress bar goes once done');

  // What the page shows is what the API answers for the same file.
  const api = await apiPost(ports.http, '/v1/rules/backtest?wait=30', CANDIDATE);
  assert.equal(api.status, 200, 'a small backtest finishes within 30 s');
  const r = api.json;
  assert.equal(r.state, 'done');
  assert.equal(r.changes['new>sql'], 1, 'u3 reaches sql under the candidate');
  const stages = await page.$$eval('#bt-stages [data-bt-stage]', (trs) => trs.map((tr) => [tr.dataset.btStage,
    tr.querySelector('[data-col="now"]').dataset.value, tr.querySelector('[data-col="candidate"]').dataset.value]));
  const names = [...new Set([...Object.keys(r.stages.now), ...Object.keys(r.stages.candidate)])];
  assert.deepEqual(stages, names.map((n) => [n, String(r.stages.now[n] ?? ''), String(r.stages.candidate[n] ?? '')]));
  assert.equal(await page.locator('svg [data-bt-bar="sql.candidate"]').textContent(), String(r.stages.candidate.sql));
  const changes = await page.$$eval('#bt-changes [data-bt-change]', (trs) => trs.map((tr) => [tr.dataset.btChange, Number(tr.querySelector('[data-value]').dataset.value)]));
  assert.deepEqual(changes, Object.entries(r.changes));
  const rules = await page.$$eval('#bt-rules [data-bt-rule]', (trs) => trs.map((tr) => [tr.dataset.btRule,
    tr.querySelector('[data-col="now"]').dataset.value, tr.querySelector('[data-col="candidate"]').dataset.value]));
  assert.deepEqual(rules, r.rules.map((x) => [x.rule, String(x.now ?? ''), String(x.candidate ?? '')]));
  const pricing = r.rules.find((x) => x.rule === 'pricing-page');
  assert.equal(Number(await page.locator('#bt-rules [data-delta="rule.pricing-page"]').getAttribute('data-value')),
    (pricing.candidate || 0) - (pricing.now || 0));
  const routing = r.routing || {};
  for (const [sel, key, obj] of [['#bt-teams', 'btTeam', routing.teams], ['#bt-reps', 'btRep', routing.reps]]) {
    const shown = await page.$$eval(`${sel} tbody tr`, (trs, k) => trs.map((tr) => [tr.dataset[k], Number(tr.querySelector('[data-value]').dataset.value)]), key);
    assert.deepEqual(shown, Object.entries(obj || {}), sel);
  }
  const shownExamples = await page.$$eval('#bt-examples [data-bt-example]', (els) => els.map((el) => el.dataset.btExample));
  assert.deepEqual(shownExamples, (r.examples || []).map((e) => e.lead));
  assert.ok(shownExamples.includes('u3'));
  assert.equal(await page.locator('[data-bt-example="u3"] a').getAttribute('href'), '#/lead?id=u3');
  await page.screenshot({path: path.join(shots, 'backtest.png'), fullPage: true});

  // Apply: dismissing the confirmation loads nothing; accepting it loads the candidate.
  const before = (await apiGet(ports.http, '/v1/rules')).json.version;
  assert.ok(await page.isEnabled('#bt-apply'));
  page.once('dialog', (d) => d.dismiss());
  await page.click('#bt-apply');
  await page.waitForTimeout(300);
  assert.equal((await apiGet(ports.http, '/v1/rules')).json.version, before);
  page.once('dialog', (d) => d.accept());
  await page.click('#bt-apply');
  await page.locator('#bt-status').getByText('applied: rules version').waitFor({timeout: DEADLINE_MS});
  assert.equal((await apiGet(ports.http, '/v1/rules')).json.version, before + 1);
  assert.equal((await apiGet(ports.http, '/v1/leads/u3')).json.stage, 'sql');
  assert.ok(await page.isDisabled('#bt-apply'), 'applied: a new backtest comes first');
  console.log(`   backtest: ${r.leads} leads, ${r.events} events, changes ${JSON.stringify(r.changes)}; applied as version ${before + 1}`);

  // An example's lead link opens the lead page.
  await page.click('[data-bt-example="u3"] a');
  await page.locator('[data-lead-id="u3"]').waitFor({timeout: DEADLINE_MS});
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-ui-'));
  const shots = path.join(buildDir, 'browser-screenshots');
  fs.mkdirSync(shots, {recursive: true});
  const daemon = await startDaemon(dir);
  const base = `http://127.0.0.1:${daemon.ports.http}`;
  const browser = await chromium.launch({executablePath: chromiumPath, args: ['--no-sandbox']});
  const step = (name) => console.log('--', name);
  try {
    const page = await browser.newPage({viewport: {width: 1280, height: 900}});
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));

    step('a wrong token is refused');
    assert.equal((await apiGet(daemon.ports.http, '/v1/reps', 'wrong')).status, 401);
    await page.goto(`${base}/ui/#/inbox?rep=alice`);
    await page.fill('#token-input', 'wrong');
    await page.click('#token-form button');
    await page.locator('#token-error').getByText('401').waitFor({timeout: DEADLINE_MS});
    assert.equal(await page.evaluate(() => sessionStorage.getItem('handoff.token')), null);
    await page.screenshot({path: path.join(shots, 'token.png')});
    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button');
    await page.locator('#stream-status').getByText('live').waitFor({timeout: DEADLINE_MS});

    step('events in over TCP -> the lead appears in the inbox without a reload');
    const sent = Date.now();
    await sendEvents(daemon.ports.ingest, [
      {type: 'identify', userId: 'u1', traits: {email: 'ann@acme.com', title: 'VP Marketing'}, messageId: 'm1'},
      {type: 'track', userId: 'u1', event: 'Pricing Viewed', messageId: 'm2'},
      {type: 'track', userId: 'u1', event: 'Demo Requested', messageId: 'm3'},
    ]);
    const card = page.locator('[data-lead="u1"]');
    await card.waitFor({timeout: DEADLINE_MS});
    console.log(`   lead u1 shown ${Date.now() - sent} ms after its events were acknowledged`);
    await card.locator('.breakdown-table').getByText('demo-request').waitFor({timeout: DEADLINE_MS});
    assert.match(await card.locator('.traits').innerText(), /ann@acme\.com/);
    assert.equal(await card.locator('[data-score="engagement"]').innerText(), '130');
    assert.match(await card.locator('.sla').innerText(), /left to accept/);
    await sendEvents(daemon.ports.ingest, [
      {type: 'identify', userId: 'u2', traits: {email: 'bo@globex.com'}, messageId: 'm4'},
      {type: 'track', userId: 'u2', event: 'Demo Requested', messageId: 'm5'},
    ]);
    await page.locator('[data-lead="u2"]').waitFor({timeout: DEADLINE_MS});
    await page.screenshot({path: path.join(shots, 'inbox.png'), fullPage: true});

    step('accept and close (won, 12000) from the page');
    await card.locator('button.accept').click();
    await card.locator('[data-status="accepted"]').waitFor({timeout: DEADLINE_MS});
    const accepted = page.locator('[data-lead="u1"]');
    await accepted.locator('select.outcome').selectOption('won');
    await accepted.locator('input.amount').fill('12000');
    await accepted.locator('button.close').click();
    await page.locator('[data-lead="u1"] [data-status="closed"]').waitFor({timeout: DEADLINE_MS});
    const reps = (await apiGet(daemon.ports.http, '/v1/reps')).json.reps;
    const alice = reps.find((r) => r.id === 'alice');
    assert.equal(alice.open, 1, 'u2 is still open');
    assert.equal(alice.today, 2);
    const funnel = await apiGet(daemon.ports.http, '/v1/funnel');
    if (funnel.status === 200) {
      assert.equal(funnel.json.accepted, 1);
      assert.equal(funnel.json.routed, 2);
      assert.equal(funnel.json.closed.won, 1);
      assert.equal(funnel.json.won_amount, 12000);
    } else {
      console.log(`   NOTE: GET /v1/funnel answered ${funnel.status}; its checks are skipped in this build`);
    }

    step('the dashboard shows /v1/funnel\'s numbers');
    await page.goto(`${base}/ui/#/dashboard`);
    await page.locator('#reps-table [data-rep="alice"]').waitFor({timeout: DEADLINE_MS});
    assert.equal(await page.locator('#reps-table [data-rep="alice"] [data-col="open"]').innerText(), '1');
    assert.equal(await page.locator('#reps-table [data-rep="alice"] [data-col="today"]').innerText(), '2');
    if (funnel.status === 200) {
      await page.locator('#funnel-table [data-funnel="routed"]').waitFor({timeout: DEADLINE_MS});
      const now = (await apiGet(daemon.ports.http, '/v1/funnel')).json;
      const shown = await page.$$eval('#funnel-table [data-funnel]', (tds) => tds.map((td) => [td.dataset.funnel, td.dataset.value]));
      assert.ok(shown.length > 5, 'the funnel table has rows');
      for (const [key, value] of shown) {
        const expected = key.split('.').reduce((o, k) => (o == null ? undefined : o[k]), now);
        assert.equal(Number(value), Number(expected ?? 0), `funnel ${key}`);
      }
      for (const k of ['routed', 'accepted']) {
        for (const p of ['p50', 'p90', 'p99']) {
          const v = await page.locator(`[data-speed="${k}.${p}"]`).getAttribute('data-value');
          const expected = now.speed_to_lead_ms && now.speed_to_lead_ms[k] ? now.speed_to_lead_ms[k][p] : undefined;
          assert.equal(v, String(expected ?? ''), `speed ${k}.${p}`);
        }
      }
    }

    step('a bad rule file in the validate box shows its errors at their lines');
    await page.fill('#rules-text', BAD_RULES);
    await page.click('#rules-validate');
    await page.locator('#rules-errors li').first().waitFor({timeout: DEADLINE_MS});
    const res = await fetch(`${base}/v1/rules/validate`, {method: 'POST', body: BAD_RULES, headers: {Authorization: 'Bearer ' + TOKEN}});
    assert.equal(res.status, 422);
    const expected = (await res.json()).errors.map((e) => `${e.line}:${e.col}`);
    const shownErrors = await page.$$eval('#rules-errors li', (lis) => lis.map((li) => `${li.dataset.line}:${li.dataset.col}`));
    assert.deepEqual(shownErrors, expected);
    const marked = await page.$$eval('#rules-lines .bad[data-line-no]', (els) => els.map((el) => el.dataset.lineNo));
    assert.deepEqual([...new Set(marked)], [...new Set(expected.map((e) => e.split(':')[0]))]);
    console.log(`   errors at ${expected.join(', ')}`);
    await page.screenshot({path: path.join(shots, 'dashboard.png'), fullPage: true});

    step('the lead page: breakdown and history');
    await page.goto(`${base}/ui/#/lead?id=u1`);
    await page.locator('table.history tbody tr').nth(2).waitFor({timeout: DEADLINE_MS});
    assert.notEqual(await page.locator('[data-field="stage"]').innerText(), '');
    await page.locator('.breakdown-table').getByText('pricing-page').waitFor({timeout: DEADLINE_MS});
    await page.screenshot({path: path.join(shots, 'lead.png'), fullPage: true});

    step('backtest page against scripted answers: progress, the report, apply');
    await backtestScriptedSteps(page, base, shots);
    step('backtest: a candidate rule file replayed, compared with the API, then applied');
    await backtestSteps(page, base, daemon.ports, shots);

    assert.deepEqual(pageErrors, []);
    console.log(`PASS (screenshots in ${shots})`);
  } finally {
    await browser.close();
    await stopDaemon(daemon.child);
    fs.rmSync(dir, {recursive: true, force: true});
  }
}

main().then(() => process.exit(0), (e) => {
  console.error('FAIL:', e && e.stack ? e.stack : e);
  process.exit(1);
});
