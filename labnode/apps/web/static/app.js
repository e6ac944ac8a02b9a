// labnode dashboard: live view over one websocket, history plots with uPlot, confirmed writes.
// Every text from a node goes into the page with textContent, never as HTML.
"use strict";

const state = {
  config: { writes: false, title: "labnode" },
  offset: 0,            // server clock minus browser clock, seconds
  live: null,           // the latest live snapshot
  selected: new Map(),  // key -> {node, codename}
  window: { mode: "relative", seconds: 600, start: 0, end: 0 },
  plot: null,
  plotKeys: "",
  loading: 0,
  loadedAt: 0,          // when the plot last asked for history (browser clock)
};
window.labnode = state;  // for people and tests poking at the page

const $ = (selector, root = document) => root.querySelector(selector);
const now = () => Date.now() / 1000 + state.offset;
const keyOf = (node, codename) => JSON.stringify([node, codename]);

function el(tag, props = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "text") element.textContent = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element[name] = value;
  }
  for (const child of children) element.append(child);
  return element;
}

function formatValue(y) {
  if (y === null || y === undefined) return "–";
  const size = Math.abs(y);
  if (size !== 0 && (size >= 1e6 || size < 1e-3)) return y.toExponential(3);
  return String(parseFloat(y.toPrecision(6)));
}

function formatAge(seconds) {
  if (seconds === null) return "";
  if (seconds < 0) seconds = 0;
  if (seconds < 120) return seconds.toFixed(1) + " s";
  if (seconds < 7200) return (seconds / 60).toFixed(1) + " min";
  if (seconds < 172800) return (seconds / 3600).toFixed(1) + " h";
  return (seconds / 86400).toFixed(1) + " d";
}

const STATE_TEXT = { ok: "ok", old_data: "OLD DATA", silent: "NOT ANSWERING", waiting: "waiting" };

// -- live ------------------------------------------------------------------------------------
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws`);
  const link = $("#link");
  ws.onopen = () => { link.textContent = "live"; link.className = "badge state-ok"; };
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    state.offset = message.now - Date.now() / 1000;
    if (message.type === "live") {
      state.live = message;
      if (state.configured) renderLive();
    }
    if (state.configured) updateAges();
  };
  ws.onclose = () => {
    link.textContent = "disconnected, retrying";
    link.className = "badge state-silent";
    setTimeout(connect, 1000);
  };
}

const views = new Map();  // node name -> {card, badge, name, health, error, body, rows}

function setText(element, text) {  // touch the DOM only when something changed
  if (element.textContent !== text) element.textContent = text;
}

function nodeView(node, fresh) {
  let view = views.get(node.name);
  if (view) return view;
  const cells = {
    name: el("span", { className: "name", text: node.name }),
    badge: el("span", { className: "badge state" }),
    health: el("div", { className: "health" }),
    error: el("div", { className: "error" }),
    body: el("tbody"),
  };
  const headings = ["plot", "channel", "value", "unit", "age", "state"]
    .concat(state.config.writes ? ["set"] : []).map((t) => el("th", { text: t }));
  const card = el("article", { className: "node", dataset: { node: node.name } }, [
    el("h2", {}, [cells.name, el("span", { className: "address", text: node.address }), cells.badge]),
    cells.health,
    cells.error,
    el("table", { className: "channels" }, [el("thead", {}, [el("tr", {}, headings)]), cells.body]),
  ]);
  view = { card, ...cells, rows: new Map(), lastAnswer: null, driver: "" };
  views.set(node.name, view);
  fresh.append(card);
  return view;
}

function channelRow(view, node, channel) {
  let row = view.rows.get(channel.codename);
  if (row) return row;
  const key = keyOf(node.name, channel.codename);
  const box = el("input", { type: "checkbox", checked: state.selected.has(key), title: "plot" });
  box.addEventListener("change", () => {
    if (box.checked) state.selected.set(key, { node: node.name, codename: channel.codename });
    else state.selected.delete(key);
    loadHistory();
  });
  row = {
    codename: el("td", { className: "codename", text: channel.codename }),
    value: el("td", { className: "value" }),
    unit: el("td", { className: "unit" }),
    age: el("td", { className: "age" }),
    state: el("td", { className: "state" }),
    write: state.config.writes ? el("td", { className: "write" }) : null,
    x: null,
  };
  row.tr = el("tr", { dataset: { codename: channel.codename } },
    [el("td", {}, [box]), row.codename, row.value, row.unit, row.age, row.state]);
  if (row.write) row.tr.append(row.write);
  view.rows.set(channel.codename, row);
  view.body.append(row.tr);
  return row;
}

function renderLive() {
  const counts = { ok: 0, old_data: 0, silent: 0, waiting: 0 };
  const fresh = document.createDocumentFragment();  // new cards go in at once
  for (const node of state.live.nodes) {
    counts[node.state] += 1;
    const view = nodeView(node, fresh);
    view.card.className = `node state-${node.state}`;
    view.badge.className = `badge state state-${node.state}`;
    setText(view.badge, STATE_TEXT[node.state]);
    setText(view.name, node.node_name || node.name);
    view.lastAnswer = node.last_answer;
    view.driver = node.driver && node.driver.state ? `driver ${node.driver.state}` : "";
    const errors = [];
    if (node.state === "silent" && node.last_error) errors.push(node.last_error);
    if (node.driver && node.driver.last_error && node.driver.state !== "connected") {
      errors.push(`driver: ${node.driver.last_error}`);
    }
    setText(view.error, errors.join(" · "));
    for (const channel of node.channels) {
      const row = channelRow(view, node, channel);
      row.tr.classList.toggle("old", channel.old);
      row.x = channel.x;
      setText(row.value, formatValue(channel.y));
      setText(row.unit, channel.unit || "");
      row.codename.title = channel.description || "";
      setText(row.state, node.state === "silent" ? "no answer"
        : channel.old ? "OLD_DATA" : channel.x === null ? "never set" : "ok");
      if (row.write) renderWrite(row.write, node, channel);
    }
  }
  $("#nodes").append(fresh);
  if (!state.firstDrawn) state.firstDrawn = performance.now();  // page usable (ms), for benches
  const parts = Object.entries(counts).filter(([, n]) => n).map(([s, n]) => `${n} ${STATE_TEXT[s]}`);
  setText($("#summary"), `${state.live.nodes.length} nodes: ${parts.join(", ")}`);
}

function updateAges() {
  const t = now();
  setText($("#clock"), new Date(t * 1000).toLocaleString());
  for (const view of views.values()) {
    const last = view.lastAnswer;
    const answer = last !== null ? `last answer ${formatAge(t - last)} ago` : "not answered yet";
    setText(view.health, [answer, view.driver].filter(Boolean).join(" · "));
    for (const row of view.rows.values()) {
      setText(row.age, row.x !== null ? formatAge(t - row.x) : "");
    }
  }
}

// -- writes ----------------------------------------------------------------------------------
function renderWrite(cell, node, channel) {
  if (!channel.writable || cell.firstChild) return;
  if (!node.push) {
    cell.append(el("span", { className: "reply", text: "no push address in the lab file" }));
    return;
  }
  const input = el("input", { type: "number", step: "any", className: "setpoint" });
  if (channel.min !== undefined && channel.min !== null) input.min = channel.min;
  if (channel.max !== undefined && channel.max !== null) input.max = channel.max;
  const button = el("button", { type: "button", className: "set", text: "Set…" });
  const reply = el("span", { className: "reply" });
  button.addEventListener("click", () => askWrite(node.name, channel, input.value, reply));
  cell.append(input, button, reply);
}

function askWrite(node, channel, text, reply) {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    reply.className = "reply refused";
    reply.textContent = "type a number first";
    return;
  }
  const unit = channel.unit ? ` ${channel.unit}` : "";
  $("#confirm-text").textContent = `Write ${channel.codename} = ${value}${unit} on ${node}?`;
  const limits = [channel.min, channel.max].some((v) => v !== undefined && v !== null)
    ? `limits: ${channel.min ?? "–"} … ${channel.max ?? "–"}${unit}` : "";
  $("#confirm-limits").textContent = limits;
  const dialog = $("#confirm");
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "ok") { reply.className = "reply"; reply.textContent = "cancelled"; return; }
    reply.className = "reply";
    reply.textContent = "writing…";
    try {
      const response = await fetch("/api/write", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ node, codename: channel.codename, value, confirmed: true }),
      });
      const answer = await response.json();
      reply.className = answer.applied ? "reply ok" : "reply refused";
      reply.textContent = answer.applied ? `applied: ${answer.reply}` : `refused: ${answer.reply || answer.error}`;
    } catch (error) {
      reply.className = "reply refused";
      reply.textContent = `no answer from the server: ${error}`;
    }
  };
  dialog.showModal();
}

// -- history ---------------------------------------------------------------------------------
function timeRange() {
  const w = state.window;
  if (w.mode === "relative") { const end = now(); return [end - w.seconds, end]; }
  return [w.start, w.end];
}

function unitOf(node, codename) {
  const n = state.live && state.live.nodes.find((item) => item.name === node);
  const c = n && n.channels.find((item) => item.codename === codename);
  return (c && c.unit) || "";
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

// uPlot loads without holding up the live view; plots wait for it
const uplotReady = new Promise((resolve) => {
  if (typeof uPlot !== "undefined") resolve();
  else $("#uplot-script").addEventListener("load", resolve);
});

async function loadHistory() {
  await uplotReady;
  const chosen = [...state.selected.values()];
  $("#plot-empty").hidden = chosen.length > 0;
  if (!chosen.length) {
    if (state.plot) { state.plot.destroy(); state.plot = null; state.plotKeys = ""; }
    $("#plot-info").textContent = "";
    return;
  }
  const ticket = ++state.loading;
  state.loadedAt = Date.now() / 1000;
  const [start, end] = timeRange();
  const width = Math.max(200, $("#plot").clientWidth || 800);
  const started = performance.now();
  let replies;
  try {
    replies = await Promise.all(chosen.map(async ({ node, codename }) => {
      const query = new URLSearchParams({ node, codename, start, end, max_points: width });
      const response = await fetch(`/api/history?${query}`);
      return response.json();
    }));
  } catch (error) {
    if (ticket === state.loading) $("#plot-info").textContent = `history not reachable: ${error}`;
    return;
  }
  if (ticket !== state.loading) return;  // a newer request superseded this one
  const tables = replies.map((r) => [
    (r.points || []).map((p) => p[0]), (r.points || []).map((p) => p[1]),
  ]);
  // NULL_EXPAND (2): a gap marker also blanks the neighbouring alignment holes, so a gap in one
  // channel is not bridged where another channel has points
  const data = tables.length === 1 ? tables[0] : uPlot.join(tables, tables.map(() => [0, 2]));
  const count = replies.reduce((n, r) => n + (r.points ? r.points.length : 0), 0);
  const sources = [...new Set(replies.filter((r) => r.source).map((r) => r.source))];
  const errors = [...new Set(replies.map((r) => r.error || r.warning).filter(Boolean))];
  $("#plot-info").textContent =
    `${count} points from ${sources.join(" and ") || "nowhere"} in ` +
    `${Math.round(performance.now() - started)} ms` + (errors.length ? ` · ${errors.join(" · ")}` : "");
  drawPlot(chosen, data, start, end, width);
}

function drawPlot(chosen, data, start, end, width) {
  const keys = chosen.map((c) => keyOf(c.node, c.codename)).join("|");
  if (state.plot && state.plotKeys === keys) {
    state.plot.setData(data, false);
    state.plot.setScale("x", { min: start, max: end });
    return;
  }
  if (state.plot) state.plot.destroy();
  const units = [];
  const series = [{}];
  chosen.forEach(({ node, codename }, i) => {
    const unit = unitOf(node, codename);
    const scale = unit || "(no unit)";
    if (!units.includes(scale)) units.push(scale);
    series.push({
      label: `${node} ${codename}${unit ? ` [${unit}]` : ""}`,
      scale, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false,
      value: (u, v) => formatValue(v),
    });
  });
  const axes = [{}].concat(units.map((scale, i) => ({
    scale, label: scale, side: i % 2 ? 1 : 3, grid: { show: i === 0 },
    values: (u, ticks) => ticks.map(formatValue), size: 70,
  })));
  const scales = { x: { time: true, auto: false } };
  const options = {
    width, height: 360, series, axes, scales,
    cursor: { drag: { x: true, y: false, setScale: false } },
    hooks: {
      setSelect: [(u) => {
        if (u.select.width < 3) return;
        const from = u.posToVal(u.select.left, "x");
        const to = u.posToVal(u.select.left + u.select.width, "x");
        u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
        showRange(from, to);
      }],
    },
  };
  state.plot = new uPlot(options, data, $("#plot"));
  state.plot.setScale("x", { min: start, max: end });
  state.plotKeys = keys;
}

function setWindowButtons(seconds) {
  for (const button of document.querySelectorAll("[data-window]")) {
    button.classList.toggle("active", Number(button.dataset.window) === seconds);
  }
}

function localInput(seconds) {  // a datetime-local value in the browser's time zone
  const date = new Date(seconds * 1000);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
}

function showRange(start, end) {
  state.window = { mode: "range", seconds: state.window.seconds, start, end };
  $("#range-from").value = localInput(start);
  $("#range-to").value = localInput(end);
  setWindowButtons(null);
  loadHistory();
}

function setupControls() {
  for (const button of document.querySelectorAll("[data-window]")) {
    button.addEventListener("click", () => {
      state.window = { mode: "relative", seconds: Number(button.dataset.window) };
      setWindowButtons(state.window.seconds);
      loadHistory();
    });
  }
  const local = (input) => new Date(input.value).getTime() / 1000;
  $("#range-apply").addEventListener("click", () => {
    const [from, to] = [local($("#range-from")), local($("#range-to"))];
    if (Number.isFinite(from) && Number.isFinite(to) && from < to) showRange(from, to);
    else $("#plot-info").textContent = "give a start before the end";
  });
  const shift = (fraction) => () => {
    const [start, end] = timeRange();
    const span = end - start;
    showRange(start + fraction * span, end + fraction * span);
  };
  $("#pan-left").addEventListener("click", shift(-0.5));
  $("#pan-right").addEventListener("click", shift(0.5));
  $("#zoom-out").addEventListener("click", () => {
    const [start, end] = timeRange();
    const span = end - start;
    showRange(start - span / 2, end + span / 2);
  });
  $("#zoom-reset").addEventListener("click", () => {
    state.window = { mode: "relative", seconds: state.window.seconds || 600 };
    setWindowButtons(state.window.seconds);
    loadHistory();
  });
  setInterval(() => {  // a relative window follows the present, one pixel's worth at a time
    if (state.window.mode !== "relative" || !state.selected.size) return;
    const pixel = state.window.seconds / Math.max(200, $("#plot").clientWidth || 800);
    if (Date.now() / 1000 - state.loadedAt >= Math.max(2, pixel)) loadHistory();
  }, 1000);
  window.addEventListener("resize", () => {
    if (state.plot) state.plot.setSize({ width: $("#plot").clientWidth, height: 360 });
  });
}

async function main() {
  const config = fetch("/api/config").then((r) => r.json());
  connect();  // at once: the first snapshot is drawn as soon as the config is there too
  try {
    state.config = await config;
  } catch (error) {
    $("#link").textContent = "server not reachable";
  }
  state.configured = true;
  document.title = state.config.title;
  $("#title").textContent = state.config.title;
  if (state.live) renderLive();
  setupControls();
  setInterval(updateAges, 250);
}

main();
