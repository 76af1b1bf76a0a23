"""The web run view: server-rendered HTML shells and one small inline script, no build step.

`/` lists runs and has a question box; `/runs/{id}` draws the plan as a DAG
(an inline SVG, one column per dependency depth, nodes coloured by status with
their confidence), follows the run live over SSE, and shows the answer with
its claims linked to the tasks and evidence that support them, and the gaps.

The shells hold no run data, so they are served without a key; the script
reads the API with the key the user enters (kept in localStorage). It reads
the SSE stream with fetch() rather than EventSource, which cannot send an
Authorization header.
"""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f7f8fa}
header{background:#1d2330;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1rem;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}
main{padding:1rem 1.2rem;max-width:1100px}
input[type=text],input[type=password]{padding:.45rem;border:1px solid #bbb;border-radius:4px}
#question{width:60%}
button{padding:.45rem .9rem;border:0;border-radius:4px;background:#2857d6;color:#fff;cursor:pointer}
table{border-collapse:collapse;width:100%;background:#fff}
td,th{border-bottom:1px solid #e3e5ea;padding:.35rem .5rem;text-align:left;font-size:.9rem;
vertical-align:top}
.card{background:#fff;border:1px solid #e3e5ea;border-radius:6px;padding:.8rem 1rem;margin:.8rem 0;
overflow-x:auto}
td code{word-break:break-word;white-space:pre-wrap}
.status{font-weight:600}
.gap{color:#a33}
.muted{color:#666;font-size:.85rem}
#error{color:#a33}
svg text{font-size:12px;font-family:system-ui,sans-serif}
"""

_SCRIPT = r"""
const COLORS = {succeeded:'#2e7d32', failed:'#c62828', running:'#f9a825', pending:'#9e9e9e',
  skipped:'#cfd2d6', unknown:'#7b1fa2'};
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g,
  c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
function headers() {
  const h = {'Content-Type': 'application/json'};
  const key = localStorage.getItem('veritask-key');
  if (key) h['Authorization'] = 'Bearer ' + key;
  return h;
}
async function api(path, options = {}) {
  const r = await fetch(path, {...options, headers: headers()});
  const body = await r.json();
  if (!r.ok) throw new Error((body.error && body.error.message) || r.statusText);
  return body;
}
function showError(e) { $('error').textContent = e ? String(e.message || e) : ''; }
function saveKey() { localStorage.setItem('veritask-key', $('key').value); location.reload(); }

async function ask(ev) {
  ev.preventDefault();
  try {
    const run = await api('/v1/runs', {method: 'POST',
      body: JSON.stringify({question: $('question').value})});
    location.href = '/runs/' + encodeURIComponent(run.run_id);
  } catch (e) { showError(e); }
}

async function listRuns() {
  try {
    const page = await api('/v1/runs?limit=50');
    $('runs').innerHTML = page.runs.map(r => `<tr><td><a href="/runs/${esc(r.run_id)}">
      ${esc(r.run_id)}</a></td><td>${esc(r.goal)}</td><td class="status">${esc(r.status)}</td>
      <td class="muted">${esc(r.started_at)}</td></tr>`).join('') ||
      '<tr><td colspan=4 class=muted>no runs yet</td></tr>';
  } catch (e) { showError(e); }
}

function dag(tasks) {
  if (!tasks.length) return '<p class=muted>no plan yet</p>';
  const W = 170, H = 54, GX = 60, GY = 18, cols = {}, pos = {};
  for (const t of tasks) { (cols[t.depth] = cols[t.depth] || []).push(t); }
  let maxRows = 0;
  for (const [d, col] of Object.entries(cols)) {
    col.forEach((t, i) => { pos[t.id] = {x: 10 + d * (W + GX), y: 10 + i * (H + GY)}; });
    maxRows = Math.max(maxRows, col.length);
  }
  const width = 20 + (Math.max(...tasks.map(t => t.depth)) + 1) * (W + GX);
  const height = 20 + maxRows * (H + GY);
  let edges = '', nodes = '';
  for (const t of tasks) for (const d of t.deps) {
    const a = pos[d], b = pos[t.id];
    edges += `<path d="M${a.x + W},${a.y + H / 2} C${a.x + W + GX / 2},${a.y + H / 2}
      ${b.x - GX / 2},${b.y + H / 2} ${b.x},${b.y + H / 2}" stroke="#888" fill="none"
      marker-end="url(#arrow)"/>`;
  }
  for (const t of tasks) {
    const p = pos[t.id], c = COLORS[t.status] || '#9e9e9e';
    const conf = t.confidence == null ? '' : ` · ${Number(t.confidence).toFixed(2)}`;
    nodes += `<a href="#task-${esc(t.id)}"><g class="node" id="node-${esc(t.id)}"
      data-status="${esc(t.status)}"><rect x="${p.x}" y="${p.y}" width="${W}" height="${H}"
      rx="6" fill="${c}" fill-opacity="0.18" stroke="${c}" stroke-width="2"/>
      <text x="${p.x + 8}" y="${p.y + 20}" font-weight="600">${esc(t.id)} · ${esc(t.tool)}</text>
      <text x="${p.x + 8}" y="${p.y + 40}">${esc(t.status)}${conf}</text></g></a>`;
  }
  return `<svg id="dag" width="${width}" height="${height}" role="img"
    aria-label="plan graph"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5"
    markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#888"/>
    </marker></defs>${edges}${nodes}</svg>`;
}

function answerCard(run) {
  const a = run.answer;
  if (!a) return `<p class=muted>${run.active ? 'working…' : 'no answer'}</p>`;
  const claims = (a.claims || []).map(c => `<li>${esc(c.text)} — ${c.task_ids.map(t =>
    `<a href="#task-${esc(t)}">${esc(t)}</a>`).join(', ')}</li>`).join('');
  return `<p id="answer-text" style="font-size:1.1rem">${esc(a.text)}</p>
    <p class=muted>answer ${esc(a.status)} · confidence ${Number(a.confidence.score).toFixed(2)}
    (${esc(a.confidence.method)})</p>${claims ? '<h4>Claims</h4><ul>' + claims + '</ul>' : ''}`;
}

function taskRows(tasks) {
  return tasks.map(t => `<tr id="task-${esc(t.id)}"><td>${esc(t.id)}</td><td>${esc(t.tool)}
    </td><td><code>${esc(JSON.stringify(t.args))}</code></td><td class="status"
    style="color:${COLORS[t.status] || '#333'}">${esc(t.status)}</td>
    <td>${t.confidence == null ? '' : Number(t.confidence).toFixed(2)}</td>
    <td><code>${esc(JSON.stringify(t.value))}</code>${t.error ? '<div class=gap>' +
    esc(t.error.message) + '</div>' : ''}</td><td class=muted>${t.evidence.map(e =>
    esc(e.tool + (e.source ? ' · ' + e.source : '') + (e.record_id ? ' #' + e.record_id : '') +
    (e.url ? ' ' + e.url : ''))).join('<br>')}</td></tr>`).join('');
}

function render(run) {
  $('goal').textContent = run.goal || run.run_id;
  $('status').textContent = run.status + (run.active ? ' (live)' : '');
  $('graph').innerHTML = dag(run.tasks || []);
  $('answer').innerHTML = answerCard(run);
  $('tasks').innerHTML = taskRows(run.tasks || []);
  const gaps = run.gaps || [];
  $('gaps').innerHTML = gaps.length ? gaps.map(g => `<li class=gap>${esc(g)}</li>`).join('')
    : '<li class=muted>none</li>';
  if (run.error) showError(run.error);
}

async function refresh(runId) {
  try { render(await api('/v1/runs/' + encodeURIComponent(runId))); showError(null); }
  catch (e) { showError(e); }
}

async function follow(runId) {
  let last = 0, done = false, pending = null;
  const later = () => { if (!pending) pending = setTimeout(() => { pending = null;
    refresh(runId); }, 80); };
  await refresh(runId);
  while (!done) {
    try {
      const h = headers();
      if (last) h['Last-Event-ID'] = String(last);
      const r = await fetch(`/v1/runs/${encodeURIComponent(runId)}/events`, {headers: h});
      if (!r.ok) { showError((await r.json()).error.message); return; }
      const reader = r.body.getReader(), decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const {value, done: end} = await reader.read();
        if (end) break;
        buffer += decoder.decode(value, {stream: true});
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
          const id = /^id: (\d+)$/m.exec(block), type = /^event: (\w+)$/m.exec(block);
          if (id) last = Number(id[1]);
          if (type && (type[1] === 'RunFinished' || type[1] === 'RunInterrupted')) done = true;
          if (type) later();
        }
      }
      done = true;
    } catch (e) { await new Promise(ok => setTimeout(ok, 1000)); }
  }
  await refresh(runId);
}
"""

_KEY_BOX = """<span style="margin-left:auto"><input id="key" type="password" placeholder="API key"
 size="14"> <button onclick="saveKey()">use key</button></span>"""


def _page(title: str, body: str, start: str) -> HTMLResponse:
    return HTMLResponse(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} — veritask</title><style>{_STYLE}</style></head>
<body><header><a href="/">veritask</a><a href="/docs">API docs</a>{_KEY_BOX}</header>
<main><p id="error"></p>{body}</main>
<script>{_SCRIPT}
$('key').value = localStorage.getItem('veritask-key') || '';
{start}</script></body></html>"""
    )


@router.get("/", response_class=HTMLResponse)
async def index() -> HTMLResponse:
    """The runs list and a box to ask a question."""
    body = """<form id="ask" class="card" onsubmit="ask(event)">
<input id="question" type="text" placeholder="Ask a question…" autofocus>
<button type="submit" id="ask-button">Run</button></form>
<h3>Runs</h3><table><thead><tr><th>run</th><th>goal</th><th>status</th><th>started</th></tr>
</thead><tbody id="runs"></tbody></table>"""
    return _page("runs", body, "listRuns();")


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(run_id: str) -> HTMLResponse:
    """One run, live: the plan's DAG, the answer with its claims and evidence, the gaps."""
    body = """<h2 id="goal"></h2><p>status: <span id="status" class="status"></span></p>
<div class="card" id="graph"></div>
<div class="card"><h3>Answer</h3><div id="answer"></div><h4>Gaps</h4><ul id="gaps"></ul></div>
<div class="card"><h3>Tasks and evidence</h3><table><thead><tr><th>task</th><th>tool</th>
<th>args</th><th>status</th><th>confidence</th><th>value</th><th>evidence</th></tr></thead>
<tbody id="tasks"></tbody></table></div>"""
    return _page(run_id, body, f"follow({_js_string(run_id)});")


def _js_string(value: str) -> str:
    """A JS string literal that is also safe inside a <script> element."""
    import json

    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")
