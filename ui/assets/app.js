// Handoff's web UI: plain JavaScript, no library. Four pages on hash routes:
//   #/inbox?rep=R   a rep's routed leads, live from GET /v1/stream, with accept / reject / close
//   #/dashboard     funnel (GET /v1/funnel), speed to lead, reps, rules validate / reload
//   #/backtest      a candidate rule file replayed over history, then applied (backtest.js)
//   #/lead?id=ID    one lead: scores, per-rule breakdown, traits, event history
// Every call sends the admin token (sessionStorage) as Authorization: Bearer; a 401 asks again.
'use strict';

const TOKEN_KEY = 'handoff.token';
const $ = (sel, root = document) => root.querySelector(sel);

// h('td', {class: 'n', dataset: {k: 'v'}}, 'text', child): an element; strings become text
// nodes, so nothing from the daemon is ever parsed as HTML.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function fmt(n) {
  if (n === undefined || n === null) return '–';
  if (typeof n !== 'number') return String(n);
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', {maximumFractionDigits: 2});
}

// ---- the token and the API ----

class AuthError extends Error {}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

function authHeaders(extra = {}) {
  return Object.assign({Authorization: 'Bearer ' + (token() || '')}, extra);
}

// A JSON call: {status, ok, json}. A 401 forgets the token and shows the prompt.
async function api(method, path, body) {
  const init = {method, headers: authHeaders()};
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers['Content-Type'] = typeof body === 'string' ? 'text/plain' : 'application/json';
  }
  const res = await fetch(path, init);
  if (res.status === 401) {
    refuseToken();
    throw new AuthError('401');
  }
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = {text}; }
  return {status: res.status, ok: res.ok, json};
}

function refuseToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  showTokenPrompt('The daemon refused this token (401 Unauthorized). Enter the admin token again.');
}

let stopPage = () => {};

function showTokenPrompt(message) {
  stopPage();
  stopPage = () => {};
  const main = $('#main');
  main.replaceChildren($('#tpl-token').content.cloneNode(true));
  $('#signout').hidden = true;
  const err = $('#token-error');
  if (message) { err.textContent = message; err.hidden = false; }
  $('#token-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const candidate = $('#token-input').value;
    const res = await fetch('/v1/rules', {headers: {Authorization: 'Bearer ' + candidate}});
    if (res.status === 401) {
      err.textContent = 'Wrong token: the daemon answered 401 Unauthorized.';
      err.hidden = false;
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, candidate);
    route();
  });
  $('#token-input').focus();
}

// ---- routing between pages ----

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [page, query] = raw.split('?');
  return {page: page || 'inbox', params: new URLSearchParams(query || '')};
}

function route() {
  stopPage();
  stopPage = () => {};
  if (token() === null) {
    showTokenPrompt();
    return;
  }
  $('#signout').hidden = false;
  const {page, params} = parseHash();
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === page);
  }
  const pages = {inbox: inboxPage, dashboard: dashboardPage, backtest: backtestPage, lead: leadPage};
  (pages[page] || inboxPage)(params);
}

function guard(promise) {
  return promise.catch((e) => { if (!(e instanceof AuthError)) console.error(e); });
}

// ---- the outbox stream (GET /v1/stream, Server-Sent Events) ----
// fetch() + ReadableStream rather than EventSource, which cannot send an Authorization header.
// Reconnects after a second, resuming after the last seq seen (from=), so nothing is missed.

function openStream(query, onRecord, onStatus) {
  const state = {stopped: false, last: 0, abort: new AbortController()};
  (async () => {
    while (!state.stopped) {
      try {
        const q = new URLSearchParams(query);
        q.set('from', String(state.last));
        const res = await fetch('/v1/stream?' + q, {headers: authHeaders(), signal: state.abort.signal});
        if (res.status === 401) { refuseToken(); return; }
        if (!res.ok) throw new Error('HTTP ' + res.status);
        onStatus('live');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          buf += value;
          let end;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let id = null; let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('id: ')) id = Number(line.slice(4));
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (id !== null) state.last = id;
            if (!data) continue;  // a heartbeat comment
            const record = JSON.parse(data);
            if (record.error === 'gap') onStatus('records before ' + record.oldest + ' are past retention');
            else onRecord(record);
          }
        }
      } catch (e) {
        if (state.stopped) return;
      }
      if (state.stopped) return;
      onStatus('reconnecting…');
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return () => { state.stopped = true; state.abort.abort(); };
}

// ---- rep inbox ----

function inboxPage(params) {
  const main = $('#main');
  main.replaceChildren($('#tpl-inbox').content.cloneNode(true));
  const rep = params.get('rep') || '';
  $('#rep-input').value = rep;
  $('#rep-form').addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = '#/inbox?rep=' + encodeURIComponent($('#rep-input').value.trim());
  });
  if (!rep) {
    $('#inbox-empty').textContent = 'Enter a rep id (as in the rules\' routing teams) to open their inbox.';
    return;
  }
  const leads = new Map();  // lead id -> {record, status, card}
  let slaSeconds = 0;
  guard(api('GET', '/v1/rules').then(({json}) => {
    slaSeconds = (json.sla && json.sla.accept_within) || 0;
    $('#sla-note').textContent = slaSeconds
      ? `SLA: accept within ${fmt(slaSeconds)} s of routing (sla.accept_within), counted from each record's "at".`
      : 'The rules set no accept SLA (sla.accept_within): the clock shows time since routing.';
  }));

  const render = (entry) => {
    const r = entry.record;
    const card = h('article', {class: 'card lead-card', dataset: {lead: r.lead, seq: r.seq}},
      h('h3', {}, h('a', {href: '#/lead?id=' + encodeURIComponent(r.lead)}, r.lead),
        h('span', {class: 'badge ' + entry.status, dataset: {status: entry.status}}, entry.status)),
      h('dl', {class: 'kv'},
        h('dt', {}, 'team'), h('dd', {}, r.team || '–'),
        h('dt', {}, 'routed'), h('dd', {}, `${r.at} (${r.reason || r.kind}, seq ${r.seq})`),
        h('dt', {}, 'stage'), h('dd', {}, r.stage || '–'),
        h('dt', {}, entry.status === 'open' ? 'SLA' : 'since routed'),
        h('dd', {}, h('span', {class: 'sla', dataset: {at: r.at}}, ''))),
      h('h3', {}, 'Scores'),
      h('dl', {class: 'kv scores'}, Object.entries(r.scores || {}).flatMap(([k, v]) =>
        [h('dt', {}, k), h('dd', {dataset: {score: k}}, fmt(v))])),
      h('div', {class: 'breakdown'}, h('span', {class: 'muted'}, 'loading breakdown…')),
      h('h3', {}, 'Traits'),
      h('dl', {class: 'kv traits'}, Object.entries(r.traits || {}).flatMap(([k, v]) =>
        [h('dt', {}, k), h('dd', {}, typeof v === 'object' ? JSON.stringify(v) : v)])),
      actionsFor(entry));
    if (entry.card) entry.card.replaceWith(card); else $('#inbox-leads').prepend(card);
    entry.card = card;
    loadBreakdown(entry);
    tick();
  };

  const loadBreakdown = (entry) => guard(api('GET', '/v1/leads/' + encodeURIComponent(entry.record.lead))
    .then(({ok, json}) => {
      const box = $('.breakdown', entry.card);
      if (!ok) { box.replaceChildren(h('span', {class: 'error'}, json.message || 'lead not found')); return; }
      box.replaceChildren(breakdownTable(json.breakdown || {}));
    }));

  function actionsFor(entry) {
    const seq = entry.record.seq;
    const flash = h('div', {class: 'flash', role: 'status'});
    const act = async (body, button) => {
      button.disabled = true;
      try {
        const {ok, json} = await api('POST', '/v1/actions?rep=' + encodeURIComponent(rep), body);
        flash.className = 'flash ' + (ok ? 'muted' : 'error');
        flash.textContent = ok ? `done (seq ${json.ok})` : `${json.error}: ${json.message}`;
      } catch (e) {
        if (!(e instanceof AuthError)) { flash.className = 'flash error'; flash.textContent = String(e); }
      } finally {
        button.disabled = false;
      }
    };
    if (entry.status === 'closed') return h('div', {class: 'actions muted'}, 'closed: ' + (entry.outcome || ''));
    const reason = h('input', {placeholder: 'reason', 'aria-label': 'reject reason', class: 'reason'});
    const outcome = h('select', {'aria-label': 'outcome', class: 'outcome'},
      h('option', {value: 'won'}, 'won'), h('option', {value: 'lost'}, 'lost'),
      h('option', {value: 'recycled'}, 'recycled'));
    const amount = h('input', {type: 'number', min: '0', step: 'any', placeholder: 'amount',
      'aria-label': 'amount', class: 'amount'});
    const accept = h('button', {type: 'button', class: 'accept', onclick: () => act({accept: seq}, accept)}, 'Accept');
    const reject = h('button', {type: 'button', class: 'secondary reject', onclick: () => {
      const body = {reject: seq};
      if (reason.value.trim()) body.reason = reason.value.trim();
      act(body, reject);
    }}, 'Reject');
    const close = h('button', {type: 'button', class: 'close', onclick: () => {
      const body = {close: seq, outcome: outcome.value};
      if (amount.value !== '') body.amount = Number(amount.value);
      act(body, close);
    }}, 'Close');
    return h('div', {}, h('div', {class: 'actions'},
      entry.status === 'accepted' ? null : accept, entry.status === 'accepted' ? null : reason,
      entry.status === 'accepted' ? null : reject, outcome, amount, close), flash);
  }

  const onRecord = (r) => {
    const entry = leads.get(r.lead);
    if (r.kind === 'routed' || r.kind === 'reassigned') {
      if (r.rep === rep) {
        const next = {record: r, status: 'open', card: entry && entry.card};
        leads.set(r.lead, next);
        render(next);
      } else if (entry) {  // reassigned away from this rep
        entry.card.remove();
        leads.delete(r.lead);
      }
    } else if (entry && r.rep === rep) {
      if (r.kind === 'accepted') entry.status = 'accepted';
      else if (r.kind === 'closed') { entry.status = 'closed'; entry.outcome = r.outcome; }
      else if (r.kind === 'rejected') entry.status = 'rejected';
      render(entry);
    }
    $('#inbox-empty').hidden = leads.size > 0;
  };

  const tick = () => {
    const now = Date.now();
    for (const el of document.querySelectorAll('.sla')) {
      const since = (now - Date.parse(el.dataset.at)) / 1000;
      const card = el.closest('[data-lead]');
      const open = card && $('[data-status]', card).dataset.status === 'open';
      if (slaSeconds && open) {
        const left = slaSeconds - since;
        el.textContent = left >= 0 ? `${clock(left)} left to accept` : `${clock(-left)} past the SLA`;
        el.classList.toggle('late', left < 0);
      } else {
        el.textContent = clock(since) + ' ago';
      }
    }
  };
  const timer = setInterval(tick, 1000);
  const status = (text) => { $('#stream-status').textContent = 'stream: ' + text; };
  const stop = openStream({kinds: 'routed,reassigned,accepted,rejected,closed'}, onRecord, status);
  stopPage = () => { clearInterval(timer); stop(); };
}

function clock(seconds) {
  const t = Math.max(0, Math.floor(seconds));
  const hms = [Math.floor(t / 3600), Math.floor(t / 60) % 60, t % 60];
  return (hms[0] ? hms[0] + 'h ' : '') + String(hms[1]).padStart(2, '0') + 'm ' + String(hms[2]).padStart(2, '0') + 's';
}

function breakdownTable(breakdown) {
  const rows = [];
  for (const [score, parts] of Object.entries(breakdown)) {
    for (const p of parts) rows.push(h('tr', {}, h('td', {}, score), h('td', {}, p.rule), h('td', {class: 'n'}, fmt(p.points))));
  }
  if (!rows.length) return h('p', {class: 'muted'}, 'No rule has awarded points.');
  return h('table', {class: 'numbers breakdown-table'},
    h('thead', {}, h('tr', {}, h('th', {}, 'score'), h('th', {}, 'rule'), h('th', {}, 'points'))),
    h('tbody', {}, rows));
}

// ---- admin dashboard ----

function dashboardPage() {
  const main = $('#main');
  main.replaceChildren($('#tpl-dashboard').content.cloneNode(true));
  guard(loadFunnel());
  guard(loadReps());
  guard(loadRulesInfo());
  $('#rules-validate').addEventListener('click', () => guard(rulesCall('/v1/rules/validate', $('#rules-text').value)));
  $('#rules-reload').addEventListener('click', () => guard(rulesCall('/v1/rules/reload', '').then(loadRulesInfo)));
  $('#rules-backtest').addEventListener('click', () => {
    sessionStorage.setItem(BACKTEST_TEXT_KEY, $('#rules-text').value);
    location.hash = '#/backtest';
  });
  const timer = setInterval(() => { guard(loadFunnel()); guard(loadReps()); }, 5000);
  stopPage = () => clearInterval(timer);
}

async function loadFunnel() {
  const {ok, status, json} = await api('GET', '/v1/funnel');
  const err = $('#funnel-error');
  if (!err) return;
  if (!ok) {
    err.hidden = false;
    err.textContent = `GET /v1/funnel answered ${status}: ${json.message || json.text || ''}`;
    return;
  }
  err.hidden = true;
  $('#funnel-window').textContent = `${json.since || 'all time'} – ${json.until || 'now'}` + (json.team ? ` · team ${json.team}` : '');
  const closed = json.closed || {};
  // The funnel's rows, top to bottom: leads per stage now, then the handoff.
  const rows = [];
  for (const [stage, n] of Object.entries(json.stages || {})) rows.push({key: 'stages.' + stage, label: 'stage ' + stage, n, cls: 'stage'});
  rows.push({key: 'routed', label: 'routed', n: json.routed});
  rows.push({key: 'accepted', label: 'accepted', n: json.accepted});
  rows.push({key: 'rejected', label: 'rejected', n: json.rejected});
  rows.push({key: 'reassigned', label: 'reassigned', n: json.reassigned});
  rows.push({key: 'escalated', label: 'escalated', n: json.escalated});
  if (json.unrouted !== undefined) rows.push({key: 'unrouted', label: 'unrouted', n: json.unrouted});
  for (const [outcome, n] of Object.entries(closed)) rows.push({key: 'closed.' + outcome, label: 'closed ' + outcome, n, cls: outcome});
  rows.push({key: 'won_amount', label: 'won amount', n: json.won_amount, noBar: true});
  for (const [t, n] of Object.entries(json.transitions || {})) rows.push({key: 'transitions.' + t, label: 'moved ' + t.replace('>', ' → '), n, noBar: true});

  const barRows = rows.filter((r) => !r.noBar);
  const max = Math.max(1, ...barRows.map((r) => r.n || 0));
  const W = 760; const rowH = 24; const labelW = 130; const numW = 70;
  const svg = s('svg', {viewBox: `0 0 ${W} ${barRows.length * rowH + 4}`, width: '100%', role: 'img', 'aria-label': 'funnel'});
  barRows.forEach((r, i) => {
    const y = i * rowH + 2;
    const w = ((W - labelW - numW) * (r.n || 0)) / max;
    svg.append(s('text', {x: labelW - 8, y: y + 16, 'text-anchor': 'end'}, r.label));
    svg.append(s('rect', {class: 'bar ' + (r.cls || ''), x: labelW, y, width: Math.max(w, 1), height: rowH - 6, rx: 3}));
    svg.append(s('text', {x: labelW + w + 6, y: y + 16, 'data-funnel-bar': r.key}, fmt(r.n || 0)));
  });
  $('#funnel-chart').replaceChildren(svg);
  $('#funnel-table').replaceChildren(
    h('thead', {}, h('tr', {}, h('th', {}, 'what'), h('th', {}, 'count'))),
    h('tbody', {}, rows.map((r) => h('tr', {}, h('td', {}, r.label),
      h('td', {class: 'n', dataset: {funnel: r.key, value: String(r.n ?? 0)}}, fmt(r.n ?? 0))))));

  const cell = (v) => h('td', {class: 'n'}, fmt(v));
  $('#funnel-reps').replaceChildren(
    h('thead', {}, h('tr', {}, ['rep', 'team', 'routed', 'accepted', 'won', 'lost', 'won amount'].map((c) => h('th', {}, c)))),
    h('tbody', {}, (json.reps || []).map((r) => h('tr', {dataset: {funnelRep: r.rep}}, h('td', {}, r.rep), h('td', {}, r.team),
      cell(r.routed), cell(r.accepted), cell(r.won), cell(r.lost), cell(r.won_amount)))));
  $('#funnel-rules').replaceChildren(
    h('thead', {}, h('tr', {}, ['rule', 'score', 'closed', 'won', 'win rate', 'lift', 'won amount'].map((c) => h('th', {}, c)))),
    h('tbody', {}, (json.rules || []).map((r) => h('tr', {dataset: {funnelRule: r.rule}}, h('td', {}, r.rule), h('td', {}, r.score),
      cell(r.closed), cell(r.won), cell(r.win_rate), cell(r.lift), cell(r.won_amount)))));

  const speed = json.speed_to_lead_ms || {};
  $('#speed-table').replaceChildren(
    h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'p50'), h('th', {}, 'p90'), h('th', {}, 'p99'), h('th', {}, 'leads'))),
    h('tbody', {}, ['routed', 'accepted'].map((k) => h('tr', {}, h('td', {}, k === 'routed' ? 'event → routed' : 'routed → accepted'),
      ['p50', 'p90', 'p99'].map((p) => {
        const v = speed[k] ? speed[k][p] : undefined;
        return h('td', {class: 'n', dataset: {speed: `${k}.${p}`, value: String(v ?? '')}}, fmt(v));
      }), h('td', {class: 'n'}, fmt(speed[k] ? speed[k].count : undefined))))));
}

async function loadReps() {
  const {ok, json} = await api('GET', '/v1/reps');
  const table = $('#reps-table');
  if (!table || !ok) return;
  table.replaceChildren(
    h('thead', {}, h('tr', {}, ['rep', 'team', 'open', 'today', 'state', 'online'].map((c) => h('th', {}, c)))),
    h('tbody', {}, (json.reps || []).map((r) => {
      const toggle = h('input', {type: 'checkbox', 'aria-label': 'online ' + r.id, checked: r.online,
        onchange: async () => {
          toggle.disabled = true;
          try { await api('PUT', '/v1/reps/' + encodeURIComponent(r.id) + '/availability', {online: toggle.checked}); }
          finally { toggle.disabled = false; guard(loadReps()); }
        }});
      return h('tr', {dataset: {rep: r.id}},
        h('td', {}, h('a', {href: '#/inbox?rep=' + encodeURIComponent(r.id)}, r.id)),
        h('td', {}, r.team), h('td', {class: 'n', dataset: {col: 'open'}}, fmt(r.open)),
        h('td', {class: 'n', dataset: {col: 'today'}}, fmt(r.today)), h('td', {}, r.state), h('td', {}, toggle));
    })));
}

async function loadRulesInfo() {
  const {ok, json} = await api('GET', '/v1/rules');
  const el = $('#rules-info');
  if (!el || !ok) return;
  el.textContent = `version ${json.version} · ${json.path} · loaded ${json.loaded_at} · sha256 ${String(json.sha256).slice(0, 12)}…`;
}

async function rulesCall(path, body) {
  const {status, json} = await api('POST', path, body);
  const result = $('#rules-result');
  const list = $('#rules-errors');
  const lines = $('#rules-lines');
  const errors = json.errors || [];
  if (json.ok) {
    result.className = 'muted';
    result.textContent = path.endsWith('validate') ? `valid (would be version ${json.version + 1})` : `reloaded: version ${json.version}`;
  } else {
    result.className = 'error';
    result.textContent = `${status}: ${errors.length} error${errors.length === 1 ? '' : 's'}` + (json.message ? ' — ' + json.message : '');
  }
  showRuleErrors(list, lines, path.endsWith('validate') ? body : '', errors);
}

// Lists `errors` (validate's {file, line, col, message}) in `list` and, when `text` is the rule
// file they are about, shows it in `lines` with line numbers, each line with an error marked and
// its errors under it, a caret at the column.
function showRuleErrors(list, lines, text, errors) {
  list.replaceChildren(...errors.map((e) => h('li', {dataset: {line: e.line, col: e.col}},
    `${e.file || '<body>'}:${e.line}:${e.col}: ${e.message}`)));
  lines.hidden = !(text && errors.length);
  if (lines.hidden) return;
  const byLine = new Map();
  for (const e of errors) byLine.set(e.line, [...(byLine.get(e.line) || []), e]);
  lines.replaceChildren(...text.split('\n').flatMap((line, i) => {
    const n = i + 1;
    const errs = byLine.get(n) || [];
    const out = [h('span', {class: errs.length ? 'bad' : '', dataset: {lineNo: n}}, String(n).padStart(4) + '  ' + line)];
    for (const e of errs) out.push(h('span', {class: 'bad'}, ' '.repeat(6 + Math.max(0, e.col - 1)) + '^ ' + e.message));
    if (!errs.length) out.push('\n');
    return out;
  }));
}

// ---- lead page ----

function leadPage(params) {
  const main = $('#main');
  main.replaceChildren($('#tpl-lead').content.cloneNode(true));
  const id = params.get('id') || '';
  $('#lead-input').value = id;
  $('#lead-form').addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = '#/lead?id=' + encodeURIComponent($('#lead-input').value.trim());
  });
  if (id) guard(showLead(id));
}

async function showLead(id) {
  const path = '/v1/leads/' + encodeURIComponent(id);
  const [lead, history] = await Promise.all([api('GET', path), api('GET', path + '/history?limit=100')]);
  const err = $('#lead-error');
  if (!lead.ok) {
    err.hidden = false;
    err.textContent = lead.status === 404 ? `No lead has the id "${id}".` : `${lead.status}: ${lead.json.message}`;
    $('#lead-view').replaceChildren();
    return;
  }
  err.hidden = true;
  const l = lead.json;
  const owner = l.owner || null;
  const events = (history.ok && history.json.events) || [];
  $('#lead-view').replaceChildren(h('div', {class: 'grid'},
    h('div', {class: 'card'}, h('h2', {}, 'Lead ', h('span', {dataset: {leadId: l.id}}, l.id)),
      h('dl', {class: 'kv'},
        h('dt', {}, 'stage'), h('dd', {dataset: {field: 'stage'}}, l.stage),
        h('dt', {}, 'owner'), h('dd', {}, owner ? `${owner.rep} (${owner.team}), seq ${owner.seq}` +
          (owner.accepted ? ', accepted' : '') + (owner.closed ? `, closed ${owner.outcome || ''}` : '') : '–'),
        h('dt', {}, 'aliases'), h('dd', {}, (l.aliases || []).join(', ') || '–'),
        h('dt', {}, 'first seen'), h('dd', {}, l.first_seen), h('dt', {}, 'last seen'), h('dd', {}, l.last_seen),
        h('dt', {}, 'events'), h('dd', {}, fmt(l.events))),
      h('h3', {}, 'Scores'),
      h('dl', {class: 'kv'}, Object.entries(l.scores || {}).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {dataset: {score: k}}, fmt(v))])),
      h('h3', {}, 'Traits'),
      h('dl', {class: 'kv'}, Object.entries(l.traits || {}).flatMap(([k, v]) =>
        [h('dt', {}, k), h('dd', {}, typeof v === 'object' ? JSON.stringify(v) : v)]))),
    h('div', {class: 'card'}, h('h2', {}, 'Breakdown'), breakdownTable(l.breakdown || {})),
    h('div', {class: 'card wide'}, h('h2', {}, `History (${events.length} event${events.length === 1 ? '' : 's'})`),
      h('table', {class: 'numbers history'},
        h('thead', {}, h('tr', {}, ['seq', 'time', 'type', 'event', 'messageId', 'points'].map((c) => h('th', {}, c)))),
        h('tbody', {}, events.map((e) => h('tr', {},
          h('td', {class: 'n'}, e.seq), h('td', {}, e.timestamp), h('td', {}, e.type), h('td', {}, e.event || ''),
          h('td', {}, e.messageId || ''),
          h('td', {}, (e.points || []).map((p) => `${p.rule} ${p.points > 0 ? '+' : ''}${fmt(p.points)}`).join(', ')))))))));
}

// ---- start ----

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', () => {
  $('#signout').addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); route(); });
  route();
});
