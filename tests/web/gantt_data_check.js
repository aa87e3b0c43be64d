// Loads cloud/web/static/gantt_data.js (path in argv) under Node.js for tests/web/test_gantt_data.py
// and prints, as one JSON line, its local-time ticks across daylight-saving changes and the index
// it makes of a small plan (bars of CUT-1 sent out of order on purpose).
"use strict";
global.window = {};
require(process.argv[2]);
const { zone, index, duration } = window.taktlineGanttData;
const z = zone("Europe/Berlin");
const DAY = 86400000, HOUR = 3600000;
const walk = (from, step, n) => {
  const out = [];
  for (let t = z.floor(Date.parse(from), step), i = 0; i < n; t = z.next(t, step), i += 1)
    out.push([new Date(t).toISOString(), z.stamp(t)]);
  return out;
};
const plan = {
  orders: [{ order: "A-1", status: "late", due: "2026-03-23T09:00:00Z", end: "2026-03-23T09:30:00Z",
    earliness_min: 0, tardiness_min: 30, steps: [
      { step: "cut", start: "2026-03-23T07:00:00Z", end: "2026-03-23T08:00:00Z", resources: [{ resource: "CUT-1" }] },
      { step: "crimp", start: "2026-03-23T08:30:00Z", end: "2026-03-23T09:30:00Z", resources: [{ resource: "CRIMP-1" }, { resource: "OP-1" }] }] }],
  resources: {
    "CUT-1": [{ order: "A-1", step: "cut", start: "2026-03-23T07:00:00Z", end: "2026-03-23T08:00:00Z" },
              { order: "B-2", step: "cut", start: "2026-03-23T06:00:00Z", end: "2026-03-23T06:30:00Z" }],
    "CRIMP-1": [{ order: "A-1", step: "crimp", start: "2026-03-23T08:30:00Z", end: "2026-03-23T09:30:00Z" }],
    "OP-1": [{ order: "A-1", step: "crimp", start: "2026-03-23T08:30:00Z", end: "2026-03-23T09:30:00Z" }] },
};
const state = { now: "2026-03-23T07:30:00Z", timezone: "Europe/Berlin",
  resources: [{ id: "OP-1", kind: "operator", name: "Anna" }, { id: "CUT-1", kind: "machine", name: "Komax 1" },
              { id: "CRIMP-1", kind: "machine", name: "" }],
  groups: {}, orders: [{ order: "A-1", product: "P", quantity: 5, customer: "K", due: "2026-03-23T09:00:00Z" }],
  down: [{ resource: "CRIMP-1", kind: "breakdown", start: "2026-03-23T07:00:00Z", end: null, reason: "breakdown" }],
  actual: [{ order: "A-1", step: "cut", start: "2026-03-23T07:00:00Z", end: null, resources: ["CUT-1"], progress: 0.5 }],
  arrivals: [] };
const d = index(plan, state, { gaps: [] });
const row = (id) => d.rows[d.byId.get(id)];
console.log(JSON.stringify({
  spring: walk("2026-03-28T12:00:00Z", DAY, 3), autumn: walk("2026-10-24T12:00:00Z", DAY, 3),
  hours: walk("2026-03-29T00:10:00Z", HOUR, 3).map(([, s]) => s),
  durations: [duration(95 * 60000), duration(45 * 60000), duration(3 * DAY)],
  rows: d.rows.map((r) => r.id), labels: d.rows.map((r) => r.label),
  cut: Array.from(row("CUT-1").start).map((t) => new Date(t).toISOString()),
  due: ["CUT-1", "CRIMP-1", "OP-1"].map((id) => row(id).due.map((m) => m.order)),
  down_end: new Date(row("CRIMP-1").down[0].end).toISOString(), open: row("CRIMP-1").down[0].open,
  running: row("CUT-1").actual.map((a) => a.progress), customer: d.orders.get("A-1").customer,
}));
