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
    if (message.type === "live") { state.live = message; renderLive(); }
    updateAges();
  };
  ws.onclose = () => {
    link.textContent = "disconnected, retrying";
    link.className = "badge state-silent";
    setTimeout(connect, 1000);
  };
}

function nodeCard(node) {
  let card = document.querySelector(`.node[data-node="${CSS.escape(node.name)}"]`);
  if (card) return card;
  card = el("article", { className: "node", dataset: { node: node.name } }, [
    el("h2", {}, [
      el("span", { className: "name", text: node.name }),
      el("span", { className: "address", text: node.address }),
      el("span", { className: "badge state" }),
    ]),
    el("div", { className: "health" }),
    el("div", { className: "error" }),
    el("table", { className: "channels" }, [
      el("thead", {}, [el("tr", {}, ["plot", "channel", "value", "unit", "age", "state"]
        .concat(state.config.writes ? ["set"] : []).map((t) => el("th", { text: t })))]),
      el("tbody"),
    ]),
  ]);
  $("#nodes").append(card);
  return card;
}

function channelRow(card, node, channel) {
  const body = $("tbody", card);
  let row = body.querySelector(`tr[data-codename="${CSS.escape(channel.codename)}"]`);
  if (row) return row;
  const key = keyOf(node.name, channel.codename);
  const box = el("input", { type: "checkbox", checked: state.selected.has(key), title: "plot" });
  box.addEventListener("change", () => {
    if (box.checked) state.selected.set(key, { node: node.name, codename: channel.codename });
    else state.selected.delete(key);
    loadHistory();
  });
  row = el("tr", { dataset: { codename: channel.codename } }, [
    el("td", {}, [box]),
    el("td", { className: "codename", text: channel.codename, title: channel.description || "" }),
    el("td", { className: "value" }),
    el("td", { className: "unit" }),
    el("td", { className: "age" }),
    el("td", { className: "state" }),
  ]);
  if (state.config.writes) row.append(el("td", { className: "write" }));
  body.append(row);
  return row;
}

function renderLive() {
  const counts = { ok: 0, old_data: 0, silent: 0, waiting: 0 };
  for (const node of state.live.nodes) {
    counts[node.state] += 1;
    const card = nodeCard(node);
    card.className = `node state-${node.state}`;
    const badge = $(".badge.state", card);
    badge.className = `badge state state-${node.state}`;
    badge.textContent = STATE_TEXT[node.state];
    $(".name", card).textContent = node.node_name || node.name;
    const driver = node.driver && node.driver.state ? `driver ${node.driver.state}` : "";
    $(".health", card).dataset.lastAnswer = node.last_answer ?? "";
    $(".health", card).dataset.driver = driver;
    const errors = [];
    if (node.state === "silent" && node.last_error) errors.push(node.last_error);
    if (node.driver && node.driver.last_error && node.driver.state !== "connected") {
      errors.push(`driver: ${node.driver.last_error}`);
    }
    $(".error", card).textContent = errors.join(" · ");
    for (const channel of node.channels) {
      const row = channelRow(card, node, channel);
      row.classList.toggle("old", channel.old);
      row.dataset.x = channel.x ?? "";
      $(".value", row).textContent = formatValue(channel.y);
      $(".unit", row).textContent = channel.unit || "";
      $(".codename", row).title = channel.description || "";
      $(".state", row).textContent = node.state === "silent" ? "no answer"
        : channel.old ? "OLD_DATA" : channel.x === null ? "never set" : "ok";
      if (state.config.writes) renderWrite(row, node, channel);
    }
  }
  const parts = Object.entries(counts).filter(([, n]) => n).map(([s, n]) => `${n} ${STATE_TEXT[s]}`);
  $("#summary").textContent = `${state.live.nodes.length} nodes: ${parts.join(", ")}`;
}

function updateAges() {
  const t = now();
  $("#clock").textContent = new Date(t * 1000).toLocaleString();
  for (const card of document.querySelectorAll(".node")) {
    const health = $(".health", card);
    const last = parseFloat(health.dataset.lastAnswer);
    const answer = Number.isFinite(last) ? `last answer ${formatAge(t - last)} ago` : "not answered yet";
    health.textContent = [answer, health.dataset.driver].filter(Boolean).join(" · ");
    for (const row of card.querySelectorAll("tbody tr")) {
      const x = parseFloat(row.dataset.x);
      $(".age", row).textContent = Number.isFinite(x) ? formatAge(t - x) : "";
    }
  }
}

// -- writes ----------------------------------------------------------------------------------
function renderWrite(row, node, channel) {
  const cell = $(".write", row);
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

async function loadHistory() {
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
  try {
    state.config = await (await fetch("/api/config")).json();
  } catch (error) {
    $("#link").textContent = "server not reachable";
  }
  document.title = state.config.title;
  $("#title").textContent = state.config.title;
  setupControls();
  connect();
  setInterval(updateAges, 250);
}

main();
