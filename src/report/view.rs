//! The browser viewer (`raftsim view`): one self-contained HTML file that replays a run. The
//! run model ([`RunModel`]) is embedded as JSON and a small inline script draws it: the nodes in
//! a circle coloured by role with their terms, messages in flight as dots moving from sender
//! to receiver (red when the network will drop them), the partitions, cut links and bursts in
//! force, the latest elections, leaders, crashes and skipped faults, the client operations in
//! flight (and, after a linearizability violation, the operations of its window, drawn as red
//! bars under the lanes), and a strip of every node's lane over the whole run under a time
//! slider, with play/pause and a speed choice.
//!
//! The page loads nothing: no network, no external script, style or font. Opening it as
//! `FILE.html#t=2.25` starts at 2.25 s (the slider is set and its `input` handler runs, as when
//! a user moves it), and `#t=2.25&play=1` also presses play (`&advance=MS` then plays MS
//! milliseconds of wall time at once, for a test); the node cards carry `data-state`
//! and `data-term`, `#inflight` and `#clients` carry `data-count` and `#time` carries `data-t` (ns), so a
//! headless browser can check what the page shows against the trace. Written by hand (no template crate): it is one page.

use crate::report::runmodel::RunModel;

/// The most messages and marks one page embeds; beyond this the file grows past what a
/// browser replays smoothly (choose a window with --from/--to).
pub const MAX_ITEMS: usize = 300_000;

/// The model restricted to `[from, to]`: spans clipped, marks, intervals and messages that
/// touch the window kept.
pub fn window(m: RunModel, from: u64, to: u64) -> RunModel {
    let mut w = m;
    for lane in &mut w.lanes {
        lane.retain(|s| s.to > from && s.from <= to);
        for s in lane.iter_mut() {
            s.from = s.from.max(from);
            s.to = s.to.min(to);
        }
    }
    w.marks.retain(|k| k.t >= from && k.t <= to);
    w.net.retain(|n| n.to >= from && n.from <= to);
    w.messages.retain(|x| x.arrived >= from && x.sent <= to);
    w.ops.retain(|o| o.end >= from && o.start <= to);
    w
}

/// How many messages, marks and client operations the page would embed.
pub fn items(m: &RunModel) -> usize {
    m.messages.len() + m.marks.len() + m.ops.len()
}

/// The page, for the window `[from, to]` of the run.
pub fn render(m: &RunModel, from: u64, to: u64) -> String {
    /// What the page embeds, serialised straight from the model (no tree of JSON values).
    #[derive(serde::Serialize)]
    struct Page<'a> {
        from: u64,
        to: u64,
        run: &'a RunModel,
        /// (state, CSS colour), in legend order.
        colors: Vec<(&'static str, String)>,
    }
    let data = Page {
        from,
        to,
        run: m,
        colors: crate::report::runmodel::State::ALL
            .iter()
            .map(|&s| {
                let (r, g, b) = crate::report::timeline::state_color(s);
                (s.name(), format!("rgb({r},{g},{b})"))
            })
            .collect(),
    };
    // Inside a <script> element only "</" could end it early; "\/" is the same JSON string.
    let json = serde_json::to_string(&data)
        .expect("the model serialises")
        .replace("</", "<\\/");
    let title = html_escape(&format!("{} (seed {})", m.scenario, m.seed));
    PAGE.replace("__TITLE__", &title)
        .replace("__RUN_JSON__", &json)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const PAGE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>raftsim: __TITLE__</title>
<style>
body { font-family: sans-serif; margin: 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 8px 0; }
#controls { display: flex; align-items: center; gap: 10px; margin: 8px 0; }
#slider { flex: 1; }
#time { font-family: monospace; font-size: 16px; min-width: 130px; }
#main { display: flex; gap: 16px; }
#nodes { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0; }
.node { border: 1px solid #555; border-radius: 4px; padding: 4px 8px; min-width: 120px; font-size: 14px; }
.node.cutoff { outline: 3px dashed #d33; }
#side { flex: 1; min-width: 280px; font-size: 13px; }
#side h2 { font-size: 14px; margin: 8px 0 4px 0; }
#window div { color: #c00; }
#log div, #faults div, #clients div, #window div { font-family: monospace; white-space: pre; }
#legend span { display: inline-block; padding: 2px 6px; margin-right: 6px; border-radius: 3px; font-size: 12px; }
</style>
</head>
<body>
<h1 id="title">__TITLE__</h1>
<div id="controls">
  <button id="play" type="button">play</button>
  <select id="speed" title="virtual seconds per real second">
    <option value="0.01">0.01×</option>
    <option value="0.1" selected>0.1×</option>
    <option value="1">1×</option>
    <option value="10">10×</option>
  </select>
  <input id="slider" type="range" min="0" max="1000" step="1" value="0">
  <span id="time" data-t="0">t=0.000000s</span>
</div>
<canvas id="lanes" width="1200" height="80"></canvas>
<div id="nodes"></div>
<div id="main">
  <canvas id="cluster" width="560" height="460"></canvas>
  <div id="side">
    <div id="inflight" data-count="0"></div>
    <h2>network faults in force</h2>
    <div id="faults" data-count="0"></div>
    <h2>client operations in flight</h2>
    <div id="clients" data-count="0"></div>
    <div id="window"></div>
    <h2>latest events</h2>
    <div id="log"></div>
    <h2>legend</h2>
    <div id="legend"></div>
  </div>
</div>
<script id="run" type="application/json">__RUN_JSON__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("run").textContent);
const R = D.run, FROM = D.from, TO = D.to, COLORS = Object.fromEntries(D.colors);
const slider = document.getElementById("slider");
const SCALE = 1000; // slider units are µs
slider.min = String(Math.floor(FROM / SCALE));
slider.max = String(Math.ceil(TO / SCALE));
let t = FROM, playing = false, last = null;

function fmt(ns) {
  const s = Math.floor(ns / 1e9), us = Math.floor((ns % 1e9) / 1e3);
  return "t=" + s + "." + String(us).padStart(6, "0") + "s";
}
function stateAt(lane, t) {
  for (const s of lane) { if (s.from <= t && t < s.to) return s; }
  const lastSpan = lane[lane.length - 1];
  return lastSpan && t >= lastSpan.to ? lastSpan : (lane[0] || null);
}
function netAt(t) { return R.net.filter(n => n.from <= t && t < n.to); }
function cutOff(node, active) {
  return active.some(n => {
    if (n.kind === "partition") {
      const big = Math.max(...n.groups.map(g => g.length));
      const ties = n.groups.filter(g => g.length === big).length > 1;
      return n.groups.some(g => g.includes(node) && (g.length < big || ties));
    }
    if (n.kind === "cut") return n.sender === node || n.receiver === node;
    return false;
  });
}
function describeNet(n) {
  if (n.kind === "partition") return "partition " + n.groups.map(g => g.map(x => "n" + x).join(" ")).join(" | ");
  if (n.kind === "cut") return "cut n" + n.sender + "→n" + n.receiver;
  return n.what;
}
function describeOp(o, answered = true) {
  let what = "put";
  if (o.op && o.op.get) what = "get k" + o.op.get.key;
  else if (o.op && o.op.put) what = "put k" + o.op.put.key + "=" + o.op.put.value;
  else if (o.op && o.op.cas) what = "cas k" + o.op.cas.key + " " + o.op.cas.expect + "->" + o.op.cas.value;
  let told = "";
  if (!answered) told = "";
  else if (o.outcome === "failed") told = " (failed)";
  else if (o.outcome === "open") told = " (no answer)";
  else if (o.ret && "get" in o.ret) told = " → " + (o.ret.get === null ? "none" : o.ret.get);
  else if (o.ret && "cas" in o.ret) told = " → " + (o.ret.cas ? "ok" : "no");
  return "r" + o.req + " " + what + told + (o.via ? " (read at the " + o.via + ")" : "");
}
const WINDOW = R.ops.filter(o => o.violation);
function describeMark(m) {
  const who = m.node ? "n" + m.node + " " : "";
  switch (m.kind) {
    case "election": return who + "starts election term " + m.term;
    case "leader": return who + "LEADER term " + m.term + " (" + m.votes + " votes)";
    case "split_vote": return "split vote term " + m.term + " (" + m.candidates.map(c => "n" + c).join(", ") + ")";
    case "failed_election": return who + "lost election term " + m.term + " (the only candidate before the cluster moved past it)";
    case "crash": return who + "CRASH";
    case "restart": return who + "restart term " + m.term;
    case "truncate": return who + "truncate from " + m.from;
    case "config_appended": return who + "appends config at " + m.index + ": " + (m.old.length ? "n" + m.old.join(",n") + " → " : "") + "n" + m.new.join(",n");
    case "config_committed": return who + "commits config at " + m.index;
    case "clock_jump": return who + "clock jumps " + (m.back ? "back " : "forward ") + (m.by / 1e6) + "ms";
    case "fault_skipped": return "fault skipped: " + m.reason;
    case "violation": return "VIOLATION " + m.property + ": " + m.detail;
    default: return null;
  }
}

// Node cards.
const cards = [];
const nodesDiv = document.getElementById("nodes");
for (let i = 1; i <= R.nodes; i++) {
  const d = document.createElement("div");
  d.className = "node"; d.id = "node-" + i;
  nodesDiv.appendChild(d); cards.push(d);
}
// Legend.
const legend = document.getElementById("legend");
for (const [name, c] of D.colors) {
  const s = document.createElement("span");
  s.style.background = c; s.textContent = name;
  if (name === "down") s.style.color = "white";
  legend.appendChild(s);
}

// The lanes strip: every node over the window, drawn once.
const lanes = document.getElementById("lanes");
const lctx = lanes.getContext("2d");
const laneH = Math.max(6, Math.min(16, Math.floor(72 / R.nodes)));
const opsTop = laneH * R.nodes + 4;
lanes.height = opsTop + (WINDOW.length ? 6 * WINDOW.length + 4 : 4);
function xOf(t) { return 30 + (t - FROM) / Math.max(1, TO - FROM) * (lanes.width - 40); }
function drawLanes() {
  lctx.fillStyle = "white"; lctx.fillRect(0, 0, lanes.width, lanes.height);
  lctx.font = "10px sans-serif";
  R.lanes.forEach((lane, i) => {
    lctx.fillStyle = "#222"; lctx.fillText("n" + (i + 1), 2, i * laneH + laneH - 2);
    for (const s of lane) {
      lctx.fillStyle = COLORS[s.state];
      const x0 = xOf(s.from), x1 = xOf(s.to);
      lctx.fillRect(x0, i * laneH + 1, Math.max(1, x1 - x0), laneH - 2);
    }
  });
  // A linearizability violation's window: each operation from its start to its answer.
  lctx.fillStyle = "#c00";
  WINDOW.forEach((o, k) => {
    const x0 = xOf(o.start), x1 = xOf(o.end);
    lctx.fillRect(x0, opsTop + 6 * k, Math.max(2, x1 - x0), 4);
  });
  lctx.fillStyle = "#d00";
  lctx.fillRect(xOf(t) - 1, 0, 2, lanes.height);
}
lanes.addEventListener("click", e => {
  const r = lanes.getBoundingClientRect();
  const f = (e.clientX - r.left - 30) / (lanes.width - 40);
  setTime(FROM + Math.max(0, Math.min(1, f)) * (TO - FROM));
});

// The cluster: nodes in a circle, messages in flight between them.
const cl = document.getElementById("cluster");
const ctx = cl.getContext("2d");
function pos(node) {
  const a = -Math.PI / 2 + 2 * Math.PI * (node - 1) / R.nodes;
  const r = Math.min(cl.width, cl.height) / 2 - 50;
  return [cl.width / 2 + r * Math.cos(a), cl.height / 2 + r * Math.sin(a)];
}

function render() {
  const tt = Math.round(t);
  const time = document.getElementById("time");
  time.textContent = fmt(tt); time.dataset.t = String(tt);
  const active = netAt(tt);
  // Cards.
  for (let i = 1; i <= R.nodes; i++) {
    const s = stateAt(R.lanes[i - 1], tt);
    const d = cards[i - 1];
    const state = s ? s.state : "follower", term = s ? s.term : 0;
    d.dataset.state = state; d.dataset.term = String(term);
    d.style.background = COLORS[state];
    d.style.color = state === "down" || state === "leader" ? "white" : "#111";
    d.classList.toggle("cutoff", cutOff(i, active));
    d.textContent = "n" + i + " " + state + (state === "down" ? "" : " term " + term);
  }
  // Messages in flight.
  const flying = R.messages.filter(m => m.sent <= tt && tt < m.arrived);
  const inf = document.getElementById("inflight");
  inf.dataset.count = String(flying.length);
  inf.textContent = R.has_messages
    ? flying.length + (flying.length === 1 ? " message" : " messages") + " in flight"
    : "messages not traced (run with --trace-level messages to see them)";
  // Faults in force.
  const fd = document.getElementById("faults");
  fd.dataset.count = String(active.length);
  fd.replaceChildren(...(active.length ? active.map(n => {
    const e = document.createElement("div"); e.textContent = describeNet(n); return e;
  }) : [Object.assign(document.createElement("div"), { textContent: "none" })]));
  // Client operations in flight, and a violation's window once its check has run.
  const open = R.ops.filter(o => o.start <= tt && tt < o.end);
  const cd = document.getElementById("clients");
  cd.dataset.count = String(open.length);
  cd.replaceChildren(...(open.length ? open.slice(0, 10).map(o => {
    const e = document.createElement("div");
    e.textContent = describeOp(o, false) + " at n" + o.node + (o.attempts > 1 ? " (attempt " + o.attempts + ")" : "");
    return e;
  }).concat(open.length > 10 ? [Object.assign(document.createElement("div"), { textContent: "… and " + (open.length - 10) + " more" })] : [])
    : [Object.assign(document.createElement("div"), { textContent: R.ops.length ? "none" : "no client requests in this run" })]));
  document.getElementById("window").replaceChildren(...(WINDOW.length ? [Object.assign(document.createElement("div"), { textContent: "not linearizable, no order explains these:" })].concat(WINDOW.map(o => {
    const e = document.createElement("div");
    e.textContent = fmt(o.start) + "–" + fmt(o.end).slice(2) + " " + describeOp(o);
    return e;
  })) : []));
  // Latest events.
  const recent = [];
  for (let i = R.marks.length - 1; i >= 0 && recent.length < 12; i--) {
    const m = R.marks[i];
    if (m.t > tt) continue;
    const text = describeMark(m);
    if (text) recent.push(fmt(m.t) + " " + text);
  }
  document.getElementById("log").replaceChildren(...recent.map(s => {
    const e = document.createElement("div"); e.textContent = s; return e;
  }));
  // The picture.
  ctx.clearRect(0, 0, cl.width, cl.height);
  for (const m of flying) {
    const [x0, y0] = pos(m.from), [x1, y1] = pos(m.to);
    const f = (tt - m.sent) / Math.max(1, m.arrived - m.sent);
    ctx.strokeStyle = "rgba(0,0,0,0.12)"; ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
    ctx.fillStyle = m.dropped ? "#d00" : (m.msg.startsWith("RequestVote") ? "#7a28a0" : "#333");
    ctx.beginPath(); ctx.arc(x0 + (x1 - x0) * f, y0 + (y1 - y0) * f, 4, 0, 2 * Math.PI); ctx.fill();
  }
  for (let i = 1; i <= R.nodes; i++) {
    const [x, y] = pos(i), d = cards[i - 1];
    ctx.fillStyle = COLORS[d.dataset.state];
    ctx.beginPath(); ctx.arc(x, y, 30, 0, 2 * Math.PI); ctx.fill();
    if (d.classList.contains("cutoff")) {
      ctx.setLineDash([6, 4]); ctx.strokeStyle = "#d33"; ctx.lineWidth = 3;
      ctx.beginPath(); ctx.arc(x, y, 36, 0, 2 * Math.PI); ctx.stroke();
      ctx.setLineDash([]); ctx.lineWidth = 1;
    }
    ctx.fillStyle = d.style.color; ctx.font = "bold 15px sans-serif"; ctx.textAlign = "center";
    ctx.fillText("n" + i, x, y - 2);
    ctx.font = "12px sans-serif";
    ctx.fillText(d.dataset.state === "down" ? "down" : "t" + d.dataset.term, x, y + 14);
  }
  drawLanes();
}

function setTime(ns) {
  t = Math.max(FROM, Math.min(TO, ns));
  slider.value = String(Math.round(t / SCALE));
  render();
}
slider.addEventListener("input", () => { t = Number(slider.value) * SCALE; render(); });
const playBtn = document.getElementById("play");
// Playing moves virtual time by the wall time between frames times the speed.
function advance(ms) {
  const speed = Number(document.getElementById("speed").value);
  setTime(t + ms * 1e6 * speed);
  if (t >= TO) { playing = false; playBtn.textContent = "play"; }
}
function frame(now) {
  if (!playing) return;
  if (last !== null) advance(now - last);
  last = now;
  if (playing) requestAnimationFrame(frame);
}
playBtn.addEventListener("click", () => {
  playing = !playing; playBtn.textContent = playing ? "pause" : "play"; last = null;
  if (playing) { if (t >= TO) setTime(FROM); requestAnimationFrame(frame); }
});
document.addEventListener("keydown", e => { if (e.key === " " && e.target === document.body) { e.preventDefault(); playBtn.click(); } });

// Start where the address says (#t=SECONDS), through the slider's own handler; `&play=1`
// starts playing, as the button does; `&advance=MS` then plays MS milliseconds of wall time
// at once, as frames would (a test's way to play without waiting).
const m = /(?:^#|&)t=([0-9.]+)/.exec(location.hash);
slider.value = String(Math.round((m ? Number(m[1]) * 1e9 : FROM) / SCALE));
slider.dispatchEvent(new Event("input"));
if (/(?:^#|&)play=1/.test(location.hash)) playBtn.click();
const adv = /(?:^#|&)advance=([0-9.]+)/.exec(location.hash);
if (playing && adv) advance(Number(adv[1]));
</script>
</body>
</html>
"##;
