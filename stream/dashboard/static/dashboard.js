// orbitlink dashboard: renders the server's view messages (server-sent events from /events).
// Every string from the stream is written with textContent, never as markup.
"use strict";

const COLOURS = { named: "#4fc3f7", uct: "#ff7043", ambiguous: "#ffd54f", tentative: "#9e9e9e" };
const TAIL = 8;              // positions kept per track for its tail
const SKY_PX = 300;          // size of one sensor's sky chart
const TABLE_EVERY_MS = 1000; // the track table is rebuilt at most this often
const CHART_WINDOW_S = 300;

const tails = new Map();     // track id -> [[ra, dec], ...] newest last
let view = null;
let sensorFilter = "";
let drawPending = false;
let lastTable = 0;
let placed = [];             // [{x, y, canvas, track}] of the points drawn, for hovering
const charts = {};

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

// -- the sky -------------------------------------------------------------------------------

function gnomonic(ra, dec, ra0, dec0) {
  const r = Math.PI / 180;
  const cosc = Math.sin(dec0 * r) * Math.sin(dec * r) +
               Math.cos(dec0 * r) * Math.cos(dec * r) * Math.cos((ra - ra0) * r);
  if (cosc <= 0) return null;
  const xi = Math.cos(dec * r) * Math.sin((ra - ra0) * r) / cosc;
  const eta = (Math.cos(dec0 * r) * Math.sin(dec * r) -
               Math.sin(dec0 * r) * Math.cos(dec * r) * Math.cos((ra - ra0) * r)) / cosc;
  return [xi / r, eta / r];
}

function skyCanvas(sensorId) {
  const id = "sky-" + encodeURIComponent(sensorId);
  let canvas = document.getElementById(id);
  if (!canvas) {
    const figure = el("figure");
    canvas = el("canvas");
    canvas.id = id;
    canvas.width = SKY_PX;
    canvas.height = SKY_PX;
    canvas.dataset.sensor = sensorId;
    canvas.addEventListener("mousemove", hover);
    canvas.addEventListener("mouseleave", () => { document.getElementById("tooltip").hidden = true; });
    figure.append(canvas, el("figcaption"));
    document.getElementById("skies").append(figure);
  }
  return canvas;
}

function drawSky(sensorId, sensor, tracks) {
  const canvas = skyCanvas(sensorId);
  const caption = canvas.parentElement.querySelector("figcaption");
  caption.textContent = `${sensorId}: ${tracks.length} tracks, frame ${sensor.frame_id ?? "–"} at ${sensor.frame_time ?? "–"}`;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, SKY_PX, SKY_PX);
  let centre = sensor.fov;
  if (!centre && tracks.length) centre = { ra_deg: tracks[0].ra, dec_deg: tracks[0].dec, radius_deg: 2 };
  if (!centre) return;
  const half = SKY_PX / 2;
  const scale = half / (centre.radius_deg * 1.15);
  // East (+RA) to the left, north up, as the sky is seen.
  const toPx = (ra, dec) => {
    const p = gnomonic(ra, dec, centre.ra_deg, centre.dec_deg);
    return p && [half - p[0] * scale, half - p[1] * scale];
  };
  ctx.strokeStyle = "#557";
  ctx.beginPath();
  ctx.arc(half, half, centre.radius_deg * scale, 0, 2 * Math.PI);
  ctx.stroke();
  for (const track of tracks) {
    const colour = COLOURS[track.verdict] ?? COLOURS.tentative;
    const tail = tails.get(track.id) ?? [];
    ctx.strokeStyle = colour;
    ctx.globalAlpha = 0.5;
    ctx.beginPath();
    tail.forEach(([ra, dec], i) => {
      const p = toPx(ra, dec);
      if (p) (i ? ctx.lineTo(p[0], p[1]) : ctx.moveTo(p[0], p[1]));
    });
    ctx.stroke();
    ctx.globalAlpha = track.status === "coasting" ? 0.5 : 1;
    const p = toPx(track.ra, track.dec);
    if (!p) continue;
    ctx.fillStyle = colour;
    ctx.beginPath();
    ctx.arc(p[0], p[1], 3, 0, 2 * Math.PI);
    ctx.fill();
    placed.push({ x: p[0], y: p[1], canvas, track });
  }
  ctx.globalAlpha = 1;
}

function describe(track) {
  const lines = [track.id];
  if (track.verdict === "named" || track.verdict === "ambiguous") {
    lines.push(`NORAD ${track.norad}${track.name ? " " + track.name : ""}`);
  }
  lines.push(`${track.verdict}, ${track.status}`);
  lines.push(`RA ${track.ra.toFixed(4)} Dec ${track.dec.toFixed(4)}`);
  return lines.join("\n");
}

function nearest(canvas, x, y) {
  let best = null, bestD = 64;
  for (const p of placed) {
    if (p.canvas !== canvas) continue;
    const d = (p.x - x) ** 2 + (p.y - y) ** 2;
    if (d < bestD) { best = p; bestD = d; }
  }
  return best;
}

function hover(event) {
  const canvas = event.currentTarget;
  const box = canvas.getBoundingClientRect();
  const hit = nearest(canvas, event.clientX - box.left, event.clientY - box.top);
  const tip = document.getElementById("tooltip");
  if (!hit) { tip.hidden = true; return; }
  tip.textContent = describe(hit.track);
  tip.style.left = `${event.clientX + 12}px`;
  tip.style.top = `${event.clientY + 12}px`;
  tip.hidden = false;
}

// -- lists and tables -----------------------------------------------------------------------

function fillList(id, items, render) {
  const list = document.getElementById(id);
  list.replaceChildren(...(items.length ? items.map(render) : [el("li", "none", "note")]));
}

function drawTable(tracks) {
  const body = document.querySelector("#tracks tbody");
  const rows = tracks.map((t) => {
    const row = el("tr");
    row.dataset.track = t.id;
    row.append(el("td", t.id), el("td", t.sensor), el("td", t.status),
               el("td", t.verdict, t.verdict), el("td", t.norad ?? ""), el("td", t.name ?? ""));
    return row;
  });
  body.replaceChildren(...rows);
  document.getElementById("track-count").textContent = `(${tracks.length})`;
}

// -- charts ---------------------------------------------------------------------------------

function chart(id, series) {
  if (charts[id]) return charts[id];
  const target = document.getElementById(id);
  const width = Math.max(target.clientWidth, 380);
  charts[id] = new uPlot({
    width, height: 160,
    scales: { x: { time: true } },
    axes: [{ stroke: "#7d8a99", grid: { stroke: "#222b35" } }, { stroke: "#7d8a99", grid: { stroke: "#222b35" } }],
    series: [{}, ...series.map(([label, stroke]) => ({ label, stroke, width: 1.5, spanGaps: true }))],
  }, [[], ...series.map(() => [])], target);
  return charts[id];
}

function drawCharts(s) {
  if (!s.t || !s.t.length) return;
  const from = Math.max(0, s.t.length - CHART_WINDOW_S);
  const cut = (name) => s[name].slice(from);
  chart("chart-rates", [["frames/s", "#81c784"], ["detections/s", "#4fc3f7"]])
    .setData([cut("t"), cut("frames"), cut("detections")]);
  chart("chart-tracks", [["named", COLOURS.named], ["UCT", COLOURS.uct], ["tentative", COLOURS.tentative]])
    .setData([cut("t"), cut("tracks_named"), cut("tracks_uct"), cut("tracks_tentative")]);
  chart("chart-assoc", [["named", COLOURS.named], ["UCT", COLOURS.uct], ["ambiguous", COLOURS.ambiguous]])
    .setData([cut("t"), cut("named"), cut("uct"), cut("ambiguous")]);
  chart("chart-latency", [["p50", "#ce93d8"], ["max", "#f48fb1"]])
    .setData([cut("t"), cut("latency_p50"), cut("latency_max")]);
}

// -- one message ------------------------------------------------------------------------------

function updateSensors(sensors) {
  const select = document.getElementById("sensor");
  const known = new Set([...select.options].map((o) => o.value));
  for (const id of Object.keys(sensors)) {
    if (!known.has(id)) select.append(new Option(id, id));
  }
}

function remember(tracks) {
  const live = new Set();
  for (const t of tracks) {
    live.add(t.id);
    const tail = tails.get(t.id) ?? [];
    const last = tail[tail.length - 1];
    if (!last || last[0] !== t.ra || last[1] !== t.dec) tail.push([t.ra, t.dec]);
    if (tail.length > TAIL) tail.shift();
    tails.set(t.id, tail);
  }
  for (const id of tails.keys()) if (!live.has(id)) tails.delete(id);
}

function draw() {
  drawPending = false;
  if (!view) return;
  const shown = sensorFilter ? view.tracks.filter((t) => t.sensor === sensorFilter) : view.tracks;
  placed = [];
  const bySensor = new Map();
  for (const t of view.tracks) {
    if (!bySensor.has(t.sensor)) bySensor.set(t.sensor, []);
    bySensor.get(t.sensor).push(t);
  }
  for (const [id, sensor] of Object.entries(view.sensors)) {
    const canvas = skyCanvas(id);
    canvas.parentElement.hidden = Boolean(sensorFilter) && id !== sensorFilter;
    if (!canvas.parentElement.hidden) drawSky(id, sensor, bySensor.get(id) ?? []);
  }
  const now = performance.now();
  if (now - lastTable >= TABLE_EVERY_MS) {
    lastTable = now;
    drawTable(shown);
    const c = view.counts, v = view.verdicts;
    document.getElementById("totals").textContent =
      `${c.frames} frames, ${c.detections} detections, ${c.associations} associations read; ` +
      `${c.tracks} tracks now: ${v.named} named, ${v.uct} UCT, ${v.ambiguous} ambiguous, ${v.tentative} tentative`;
    drawCharts(view.series);
    const lag = view.lag;
    document.getElementById("lag").textContent = lag ? String(lag.total) : "unknown";
    document.getElementById("lag-parts").textContent = lag
      ? Object.entries(lag.partitions).map(([p, n]) => `partition ${p}: ${n}`).join(", ")
      : "the worker group has committed no offsets yet";
    fillList("alerts", [...view.alerts.firing, ...view.alerts.recent.filter((a) => a.state === "resolved")].slice(0, 30), (a) => {
      const li = el("li", null, a.state);
      li.append(el("strong", `${a.state} ${a.kind}`), el("span", ` ${a.sensor_id ?? "service"} since ${a.first_time}: `), el("span", a.message));
      return li;
    });
    fillList("ucts", view.ucts, (u) => el("li", `${u.time} ${u.track} (${u.sensor}), ${u.candidates ?? 0} candidates`));
    fillList("deadletters", view.dead_letters, (d) => el("li", `${d.at ?? ""} ${d.topic}@${d.offset} key ${d.key ?? "–"}: ${d.reason}`));
  }
}

function receive(message) {
  view = JSON.parse(message.data);
  remember(view.tracks);
  updateSensors(view.sensors);
  if (!drawPending) { drawPending = true; requestAnimationFrame(draw); }
}

function connect() {
  const status = document.getElementById("status");
  const source = new EventSource("/events");
  source.onopen = () => { status.textContent = "live"; status.className = "status live"; };
  source.onerror = () => { status.textContent = "reconnecting…"; status.className = "status lost"; };
  source.onmessage = receive;
}

document.getElementById("sensor").addEventListener("change", (event) => {
  sensorFilter = event.target.value;
  lastTable = 0;
  draw();
});

// For tests and scripts: where a track is drawn, in page coordinates (null if not drawn).
window.orbitlinkDashboard = {
  trackPosition(id) {
    const p = placed.find((q) => q.track.id === id);
    if (!p) return null;
    const box = p.canvas.getBoundingClientRect();
    return { x: box.left + p.x, y: box.top + p.y };
  },
  view: () => view,
};

connect();
