// Taktline's monitoring pages: one small application rendering the view its path names,
// redrawn on every status the server pushes (Server-Sent Events on /api/events). No external
// assets: the plant's network may have no way out. Things are shown by their master-data names,
// their ids and tags on hover (`named`); times on the plant's clock (`when`, time.js).
"use strict";

const view = document.getElementById("view");
const clock = window.taktlineTime;
let latest = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function text(value) {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

// A master-data name, with what identifies it (id, station, tag) on hover.
function named(name, ...ids) {
  const shown = ids.filter((id) => id !== null && id !== undefined && id !== "" && id !== name);
  return el("span", { class: "named", title: shown.join(" · ") }, text(name || ids[0]));
}

// A time on the plant's clock, the whole moment on hover.
function when(value) {
  return value === null || value === undefined || value === "" ? "—" : clock.stamp(value);
}

// A job by its order and step ("H-101 / crimp"), its ticket's tag on hover.
function jobName(ticket, step) {
  const known = step || (latest && latest.jobs && latest.jobs[ticket]);
  if (!ticket && !known) return "—";
  if (!known || !known.order) return named(ticket);
  return named(`${known.order} / ${known.step}`, ticket ? `ticket ${ticket}` : null);
}

function table(headers, rows, empty) {
  const body = el("tbody");
  if (!rows.length) body.append(el("tr", {}, el("td", { class: "empty", colSpan: headers.length }, empty)));
  for (const row of rows) body.append(el("tr", {}, ...row.map((cell) => el("td", {}, cell instanceof Node ? cell : text(cell)))));
  return el("table", {}, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))), body);
}

// A station by its machine's name (the status knows the names), the station id on hover.
function machineName(station) {
  if (!station) return "—";
  const m = latest && latest.machines && latest.machines[station];
  return m && m.name && m.name !== station ? named(m.name, `station ${station}`) : named(station);
}

// What a tag stands for (an operator's badge, a tool, a job ticket) by name, the tag on hover.
function tagName(tag) {
  if (!tag) return "—";
  const person = latest && latest.labour && latest.labour[tag];
  if (person) return named(person.name, `badge ${tag}`);
  const tool = latest && latest.tools && latest.tools[tag];
  if (tool) return named(tool.name, `tag ${tag}`);
  if (latest && latest.jobs && latest.jobs[tag]) return jobName(tag);
  return named(tag);
}

function stateText(m) {
  if (m.state === "STOPPED") return `STOPPED — ${m.stop_reason}`;
  return m.state;
}

function route() {
  const path = location.pathname;
  if (path.startsWith("/machines/")) return ["machine", decodeURIComponent(path.slice(10))];
  const name = path.replace(/^\//, "") || "andon";
  return [name, null];
}

function overview(status) {
  const tiles = Object.entries(status.machines).map(([station, m]) =>
    el("a", { class: `tile ${m.state}`, href: `/machines/${encodeURIComponent(station)}`, "data-station": station },
      el("div", { class: "name", title: `station ${station}` }, m.name, m.online === false ? el("span", { class: "offline" }, " OFFLINE ") : null),
      el("div", { class: "state", "data-state": m.state }, stateText(m)),
      el("div", { class: "detail" }, "since ", when(m.since)),
      el("div", { class: "detail" }, "job ", jobName(m.job, m.job_step), ` · cycles ${m.cycles} · good ${m.good} · scrap ${m.scrap}`),
      el("div", { class: "detail" }, "operators ", ...(m.operator_names.length ? m.operator_names.flatMap((n, i) => [i ? ", " : "", named(n, `badge ${m.operators[i]}`)]) : ["—"]),
        " · tool ", m.tool_name ? named(m.tool_name, m.tool ? `tag ${m.tool}` : null) : "—"),
      m.unskilled.length ? el("div", { class: "flag" }, `not skilled: ${m.unskilled.map((t) => m.operator_names[m.operators.indexOf(t)]).join(", ")}`) : null));
  return [el("h2", {}, "Plant overview"),
    tiles.length ? el("div", { class: "grid", id: "machines" }, ...tiles) : el("p", { class: "empty" }, "no machine known yet")];
}

// The Machine page: its data from the API, drawn by machine.js (`machinePage`).
async function machine(status, station) {
  const response = await fetch(`/api/machines/${encodeURIComponent(station)}`);
  if (!response.ok) return [el("h2", {}, station), el("p", { class: "empty" }, "no such machine")];
  return machinePage(await response.json(), status, station);
}

function toolLife(life) {
  if (!life || !life.state) return "no limit";
  const parts = [];
  if (life.limit_cycles) parts.push(`${life.cycles_since_service}/${life.limit_cycles} cycles`);
  if (life.limit_hours) parts.push(`${clock.rounded(life.hours_since_service)}/${life.limit_hours} h`);
  const text = `${parts.join(", ")} (${Math.round(life.used * 100)} %)`;
  if (life.state === "due") return el("span", { class: "flag" }, `SERVICE DUE: ${text}`);
  if (life.state === "warn") return el("span", { class: "flag" }, `service soon: ${text}`);
  return text;
}

function tooling(status) {
  return [el("h2", {}, "Tooling"), table(["Tool", "Type", "Where", "Machine", "Since", "Cycles", "Since mounted", "Tool life", "Serviced", "Gate"],
    Object.values(status.tools).map((t) => [named(t.name, t.tool, `tag ${t.tag}`), t.tool_type, t.place === "delivery" ? "in delivery" : t.place === "crib" ? "tool centre" : t.place,
      machineName(t.station), when(t.since), t.cycles, t.cycles_mounted, toolLife(t.life), t.serviced_at ? el("span", {}, when(t.serviced_at), ` by ${t.serviced_by}`) : "",
      t.unpaired_reader ? `unpaired read at ${t.unpaired_reader}` : ""]), "no tools known")];
}

// The plan's next job of an operator, "H-101/crimp at <ISO time>", with the time on the plant's clock.
function nextJob(value) {
  const found = /^(.*) at (\S+)$/.exec(value || "");
  return found ? el("span", {}, `${found[1]} at `, when(found[2])) : text(value);
}

function labour(status) {
  const flags = (p) => {
    const said = [p.unskilled ? "lacks the skill" : "", p.relied_on ? "planned but not here" : ""].filter((f) => f);
    return said.length ? el("span", { class: "flag" }, said.join("; ")) : "";
  };
  return [el("h2", {}, "Labour"), table(["Operator", "Presence", "Status", "Machine", "Rest zone", "Since", "Skills", "Planned jobs", "Next job", "Flag"],
    Object.entries(status.labour).map(([tag, p]) => [named(p.name, p.operator, `badge ${tag}`), (p.presence || "").replace("_", " "), p.status.replace("_", " "), machineName(p.station), p.rest_zone, when(p.since),
      p.skills.join(", "), p.planned_jobs ?? "", nextJob(p.next_job), flags(p)]), "no operators known")];
}

function kanban(status) {
  const k = status.kanban || { loops: {}, bins: {} };
  const signal = (s) => (s.kind === "card" ? `card ${s.card}` : `bin ${s.bin} (${s.quantity} < ${s.threshold})`);
  const loops = Object.entries(k.loops).map(([id, l]) => [id, l.material, l.replenished_by, l.container_qty,
    clock.rounded(l.lead_time_min), clock.rounded(l.safety), l.cards, l.in_loop, l.recommended === null ? "no plan" : l.recommended, clock.rounded(l.demand_per_h),
    `${l.by_state.full} / ${l.by_state.empty} / ${l.by_state.in_transit} / ${l.by_state.at_supplier}`,
    l.signals.length ? el("span", { class: "flag" }, l.signals.map(signal).join(", ")) : "",
    l.lost.length ? el("span", { class: "flag" }, `LOST ${l.lost.map((c) => c.card).join(", ")}`) : ""]);
  const bins = Object.entries(k.bins).map(([id, b]) => [id, machineName(b.station), clock.rounded(b.quantity), clock.rounded(b.threshold), clock.rounded(b.rate_per_h),
    b.below ? el("span", { class: "flag" }, "LOW: replenish") : "stocked", when(b.at)]);
  return [el("h2", {}, "Kanban loops"),
    table(["Loop", "Material", "Replenished by", "Container", "Lead time (min)", "Safety", "Cards", "In loop",
      "Recommended", "Demand (/h)", "Full / empty / in transit / at supplier", "Replenish", "Lost cards"],
    loops, "no kanban loops in the plant model"),
    el("h2", {}, "Smart bins"),
    table(["Bin", "Station", "Pieces", "Threshold", "Use (/h)", "State", "Since"], bins, "no smart bin has reported")];
}

const VIEWS = { overview, tooling, labour, deliveries, kanban, corrections };
// Views that fetch their own data (plan.js registers "plan" and "gaps", andon.js "andon"): drawn
// on load and on their own pushed events; one with `status(view, status)` also on every status
// push. Each is { draw(view, event) }.
const SELF_FETCHING = {};
// `redraw`: draws the current view again from the latest status (a page's own buttons).
window.taktline = { el, table, text, named, when, views: SELF_FETCHING, redraw: () => latest && render(latest) };

function drawSelfFetching(event) {
  const [name] = route();
  const own = SELF_FETCHING[name];
  if (!own) return;
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("current", link.dataset.view === name);
  own.draw(view, event);
}

async function render(status) {
  latest = status;
  document.getElementById("applied").textContent = status.applied;
  document.getElementById("now").replaceChildren(status.now ? clock.stamp(status.now, { seconds: true, zone: true }) : "—");
  const [name, arg] = route();
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("current", link.dataset.view === name);
  if (SELF_FETCHING[name]) {  // drawn from its own data (plan.js, andon.js)
    if (SELF_FETCHING[name].status) SELF_FETCHING[name].status(view, status);
    return;
  }
  if (name === "corrections" && document.getElementById("correction-form")) {
    const fresh = corrections(status);
    view.querySelector("table:last-of-type")?.replaceWith(fresh[fresh.length - 1]);
    return;  // keep what is being typed into the form
  }
  const parts = name === "machine" ? await machine(status, arg) : (VIEWS[name] || overview)(status);
  view.replaceChildren(...parts);
  document.body.dataset.rendered = String(status.applied);
}

function connect() {
  const link = document.getElementById("link");
  const source = new EventSource("/api/events");
  source.addEventListener("status", (event) => {
    link.textContent = "live"; link.className = "link live";
    render(JSON.parse(event.data));
  });
  source.addEventListener("plan", (event) => drawSelfFetching(JSON.parse(event.data)));
  source.onerror = () => { link.textContent = "reconnecting…"; link.className = "link down"; };
}

connect();
document.addEventListener("DOMContentLoaded", () => drawSelfFetching(null));
