// The backtest page (#/backtest, SPEC 13) of Handoff's web UI: a candidate rule file (pasted, or
// picked with a file input) is replayed over the stored history by POST /v1/rules/backtest?wait=0;
// the page polls GET /v1/rules/backtest/{id} every 200 ms with a progress bar, then shows what
// would change: leads per stage now vs candidate (bars), the stage changes, points per rule with
// the difference, the candidate's routing by team and rep, and example leads. A rejected file's
// errors are marked at their lines as the dashboard's validate box does. "Apply…" (after a
// confirmation) sends the same text to POST /v1/rules/apply.
//
// Loaded after app.js (both deferred, so both have run before DOMContentLoaded starts the UI); it
// uses app.js's helpers (h, s, fmt, api, guard, showRuleErrors, stopPage), and app.js's route()
// opens it.
'use strict';

const BACKTEST_POLL_MS = 200;
// The dashboard's "Backtest this file…" hands its text over here (this tab only).
const BACKTEST_TEXT_KEY = 'handoff.backtest.text';

function backtestPage() {
  const main = document.querySelector('#main');
  main.replaceChildren(document.querySelector('#tpl-backtest').content.cloneNode(true));
  const $b = (sel) => main.querySelector(sel);
  const text = $b('#bt-text');
  const handed = sessionStorage.getItem(BACKTEST_TEXT_KEY);
  if (handed !== null) {
    text.value = handed;
    sessionStorage.removeItem(BACKTEST_TEXT_KEY);
  }
  // The text the last finished backtest ran on: Apply loads exactly what was backtested.
  let backtested = null;
  let stopped = false;
  let timer = null;
  stopPage = () => { stopped = true; clearTimeout(timer); };

  const status = (msg, cls = 'muted') => { const el = $b('#bt-status'); el.className = cls; el.textContent = msg; };
  const progress = (fraction) => {
    const bar = $b('#bt-progress');
    bar.hidden = fraction === null;
    if (fraction === null) return;
    const pct = Math.round(Math.min(1, Math.max(0, Number(fraction) || 0)) * 100);
    bar.setAttribute('aria-valuenow', String(pct));
    bar.querySelector('.fill').style.width = pct + '%';
  };
  const errors = (list, source) => showRuleErrors($b('#bt-errors'), $b('#bt-lines'), source, list);
  const refreshApply = () => {
    $b('#bt-apply').disabled = backtested === null || backtested !== text.value;
  };

  text.addEventListener('input', refreshApply);
  $b('#bt-file').addEventListener('change', async (e) => {
    const file = e.target.files && e.target.files[0];
    if (!file) return;
    text.value = await file.text();
    status(`read ${file.name} (${fmt(file.size)} bytes)`);
    refreshApply();
  });

  $b('#bt-run').addEventListener('click', () => guard((async () => {
    const source = text.value;
    const q = new URLSearchParams({wait: '0'});
    if ($b('#bt-since').value.trim()) q.set('since', $b('#bt-since').value.trim());
    if ($b('#bt-at').value.trim()) q.set('at', $b('#bt-at').value.trim());
    backtested = null;
    refreshApply();
    errors([], '');
    $b('#bt-result').hidden = true;
    $b('#bt-run').disabled = true;
    try {
      let {status: code, json} = await api('POST', '/v1/rules/backtest?' + q, source);
      if (code === 422) {
        const list = json.errors || [];
        status(`422: ${list.length} error${list.length === 1 ? '' : 's'} in the rule file`, 'error');
        errors(list, source);
        return;
      }
      if (code !== 200 && code !== 202) {
        status(`POST /v1/rules/backtest answered ${code}: ${json.message || json.error || json.text || ''}`, 'error');
        return;
      }
      const started = Date.now();
      while (json.state !== 'done' && json.state !== 'failed') {
        progress(json.progress || 0);
        status(`${json.state || 'running'} · ${((Date.now() - started) / 1000).toFixed(1)} s`);
        await new Promise((r) => { timer = setTimeout(r, BACKTEST_POLL_MS); });
        if (stopped) return;
        ({status: code, json} = await api('GET', '/v1/rules/backtest/' + encodeURIComponent(json.id)));
        if (stopped) return;
        if (code !== 200) {
          status(`GET /v1/rules/backtest answered ${code}: ${json.message || json.error || ''}`, 'error');
          return;
        }
      }
      if (json.state === 'failed') {
        status(`the backtest failed: ${json.error || ''}`, 'error');
        return;
      }
      backtested = source;
      refreshApply();
      status((json.elapsed_ms || 0) < 1000 ? `done in ${fmt(json.elapsed_ms || 0)} ms` : `done in ${fmt(json.elapsed_ms / 1000)} s`);
      showBacktest(main, json);
    } finally {
      progress(null);
      if (!stopped) $b('#bt-run').disabled = false;
    }
  })()));

  $b('#bt-apply').addEventListener('click', () => guard((async () => {
    const source = text.value;
    if (source !== backtested) return;
    if (!window.confirm('Apply this rule file? The daemon writes it over its rules file, reloads ' +
        'and re-evaluates every lead\'s stage at once. Past awards keep their points: changed ' +
        'points count from the next event on, so live scores may differ from the backtest.')) return;
    $b('#bt-apply').disabled = true;
    const {status: code, json} = await api('POST', '/v1/rules/apply', source);
    if (code === 200) {
      status(`applied: rules version ${json.version}; ${fmt(json.changed)} of ${fmt(json.leads)} leads changed stage`);
      backtested = null;  // live state moved: a new backtest compares against it
    } else if (code === 422) {
      const list = json.errors || [];
      status(`422: ${list.length} error${list.length === 1 ? '' : 's'}: not applied`, 'error');
      errors(list, source);
    } else {
      status(`not applied: ${code}: ${json.message || json.error || json.text || ''}`, 'error');
    }
    refreshApply();
  })()));
}

// A signed difference with its class: '+412' (up), '-5' (down), '0'.
function deltaCell(now, candidate, key) {
  const d = (candidate || 0) - (now || 0);
  return h('td', {class: 'n ' + (d > 0 ? 'up' : d < 0 ? 'down' : ''), dataset: {delta: key, value: String(d)}},
    (d > 0 ? '+' : '') + fmt(d));
}

function showBacktest(root, r) {
  const $b = (sel) => root.querySelector(sel);
  $b('#bt-result').hidden = false;
  $b('#bt-summary').textContent = `${fmt(r.leads)} leads, ${fmt(r.events)} events · scores at ${r.at || 'now'}` +
    ` · ${r.since ? 'history since ' + r.since : 'all history'}` +
    (r.undecodable ? ` · ${fmt(r.undecodable)} undecodable history entries skipped` : '');

  // Leads per stage: two bars per stage, now (light) over candidate, drawn like the funnel.
  const now = (r.stages && r.stages.now) || {};
  const cand = (r.stages && r.stages.candidate) || {};
  const names = [...new Set([...Object.keys(now), ...Object.keys(cand)])];
  const max = Math.max(1, ...names.flatMap((n) => [now[n] || 0, cand[n] || 0]));
  const W = 760; const barH = 16; const rowH = 2 * barH + 12; const labelW = 130; const numW = 90;
  const svg = s('svg', {viewBox: `0 0 ${W} ${names.length * rowH + 4}`, width: '100%', role: 'img',
    'aria-label': 'leads per stage, now and under the candidate'});
  names.forEach((n, i) => {
    const y = i * rowH + 2;
    svg.append(s('text', {x: labelW - 8, y: y + barH + 4, 'text-anchor': 'end'}, n));
    [['now', now[n] || 0, 'stage'], ['candidate', cand[n] || 0, 'candidate']].forEach(([side, v, cls], k) => {
      const w = ((W - labelW - numW) * v) / max;
      const by = y + k * (barH + 2);
      svg.append(s('rect', {class: 'bar ' + cls, x: labelW, y: by, width: Math.max(w, 1), height: barH, rx: 3}));
      svg.append(s('text', {x: labelW + w + 6, y: by + 12, 'data-bt-bar': `${n}.${side}`}, fmt(v)));
    });
  });
  $b('#bt-stages-chart').replaceChildren(
    h('div', {class: 'legend'}, h('span', {}, h('i', {class: 'now'}), 'now'), h('span', {}, h('i', {class: 'candidate'}), 'candidate')),
    svg);
  const num = (v, attrs = {}) => h('td', Object.assign({class: 'n'}, attrs), fmt(v));
  $b('#bt-stages').replaceChildren(
    h('thead', {}, h('tr', {}, ['stage', 'now', 'candidate', 'change'].map((c) => h('th', {}, c)))),
    h('tbody', {}, names.map((n) => h('tr', {dataset: {btStage: n}}, h('td', {}, n),
      num(now[n], {dataset: {col: 'now', value: String(now[n] ?? '')}}),
      num(cand[n], {dataset: {col: 'candidate', value: String(cand[n] ?? '')}}),
      deltaCell(now[n], cand[n], 'stage.' + n)))));

  const changes = Object.entries(r.changes || {});
  $b('#bt-changes').replaceChildren(
    h('thead', {}, h('tr', {}, h('th', {}, 'from → to'), h('th', {}, 'leads'))),
    h('tbody', {}, changes.length ? changes.map(([k, v]) => h('tr', {dataset: {btChange: k}},
      h('td', {}, k.replace('>', ' → ')), num(v, {dataset: {value: String(v)}})))
      : h('tr', {}, h('td', {class: 'muted', colspan: 2}, 'No lead would change stage.'))));

  $b('#bt-rules').replaceChildren(
    h('thead', {}, h('tr', {}, ['rule', 'score', 'now', 'candidate', 'change'].map((c) => h('th', {}, c)))),
    h('tbody', {}, (r.rules || []).map((x) => h('tr', {dataset: {btRule: x.rule}},
      h('td', {}, x.rule), h('td', {}, x.score),
      num(x.now, {dataset: {col: 'now', value: String(x.now ?? '')}}),
      num(x.candidate, {dataset: {col: 'candidate', value: String(x.candidate ?? '')}}),
      deltaCell(x.now, x.candidate, 'rule.' + x.rule)))));

  const routing = r.routing || {};
  $b('#bt-routing-stage').textContent = routing.stage ? `(leads in stage ${routing.stage})` : '';
  const group = (sel, label, obj, key) => $b(sel).replaceChildren(
    h('thead', {}, h('tr', {}, h('th', {}, label), h('th', {}, 'leads'))),
    h('tbody', {}, Object.entries(obj || {}).map(([k, v]) => h('tr', {dataset: {[key]: k}},
      h('td', {}, k), num(v, {dataset: {value: String(v)}})))));
  group('#bt-teams', 'team', routing.teams, 'btTeam');
  group('#bt-reps', 'rep', routing.reps, 'btRep');
  $b('#bt-routing-note').textContent = ['queued', 'unrouted'].filter((k) => routing[k] !== undefined)
    .map((k) => `${k} ${fmt(routing[k])}`).join(' · ');

  // Score distributions: per score, leads per bucket of values, now (light) beside candidate.
  $b('#bt-histograms').replaceChildren(...(r.histograms || []).map((hist) => {
    const n = Math.max(hist.now.length, hist.candidate.length);
    const top = Math.max(1, ...hist.now, ...hist.candidate);
    const HW = 360; const HH = 110; const base = HH - 18; const slot = HW / Math.max(1, n);
    const svg = s('svg', {viewBox: `0 0 ${HW} ${HH}`, width: '100%', role: 'img', 'aria-label': 'distribution of ' + hist.score});
    for (let i = 0; i < n; ++i) {
      [[hist.now[i], 'stage', 0], [hist.candidate[i], 'candidate', 1]].forEach(([v, cls, k]) => {
        if (v === undefined) return;
        const bh = ((base - 4) * v) / top;
        svg.append(s('rect', {class: 'bar ' + cls, x: i * slot + 1 + k * (slot - 2) / 2, y: base - bh,
          width: Math.max(1, (slot - 2) / 2 - 1), height: Math.max(bh, v ? 1 : 0)}, s('title', {}, `${fmt(v)} leads`)));
      });
      if (i % Math.ceil(n / 5) === 0) {
        svg.append(s('text', {x: i * slot, y: HH - 4, 'font-size': 10}, fmt(i * hist.bucket_width)));
      }
    }
    return h('div', {class: 'histogram', dataset: {btHistogram: hist.score}}, h('h3', {}, hist.score), svg);
  }));
  $b('#bt-histograms-card').hidden = !(r.histograms || []).length;

  const examples = r.examples || [];
  $b('#bt-examples').replaceChildren(...(examples.length ? examples.map((e) => {
    const sNow = (e.scores && e.scores.now) || {};
    const sCand = (e.scores && e.scores.candidate) || {};
    const parts = (e.breakdown && e.breakdown.candidate) || {};
    const scores = [...new Set([...Object.keys(sNow), ...Object.keys(sCand)])];
    return h('div', {class: 'example', dataset: {btExample: e.lead}},
      h('h3', {}, h('a', {href: '#/lead?id=' + encodeURIComponent(e.lead)}, e.lead),
        h('span', {class: 'badge'}, `${e.from} → ${e.to}`)),
      h('table', {class: 'numbers'},
        h('thead', {}, h('tr', {}, ['score', 'now', 'candidate', 'change', 'candidate\'s rules'].map((c) => h('th', {}, c)))),
        h('tbody', {}, scores.map((k) => h('tr', {}, h('td', {}, k), num(sNow[k]), num(sCand[k]),
          deltaCell(sNow[k], sCand[k], 'score.' + k),
          h('td', {}, (parts[k] || []).map((p) => `${p.rule} ${p.points > 0 ? '+' : ''}${fmt(p.points)}`).join(', ')))))));
  }) : [h('p', {class: 'muted'}, 'No example: no lead would change stage.')]));
}
