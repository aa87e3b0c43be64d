// The Deliveries page: each delivery with its lorry by name, the GNSS fix in words, the
// production orders it feeds (from the plan: `feeds`, with the margin from ready to each step's
// start) apart from the supplier's orders, and why material is ready later than the lorry arrives
// (unloading, inspection and shelving minutes). Loaded before app.js, which draws the view
// `deliveries(status)` on every status push; `el`, `table` and `when` (a time on the plant's
// clock) are app.js's helpers, looked up when the view is drawn.
"use strict";

const FIX_WORDS = { "3d": "good (3D fix)", "2d": "rough (2D fix, no height)", none: "no position (no fix): no ETA" };

function readyWhy(x) {
  if (!x.ready) return "—";
  const h = x.handling || {};
  return el("span", {}, when(x.ready), el("div", { class: "detail" },
    `${x.arrived_at ? "arrival" : "ETA"} + unloading ${h.unload_min} min + inspection ${h.inspect_min} min + shelving ${h.shelve_min} min`));
}

function margin(minutes) {
  if (minutes === null || minutes === undefined) return null;
  if (minutes < 0) return el("span", { class: "flag" }, ` ready ${-minutes} min too late`);
  if (minutes <= 15) return el("span", { class: "flag" }, " waits for this delivery");
  return el("span", { class: "detail" }, ` ${minutes} min after ready`);
}

function feeds(x) {
  if (!x.feeds) return "no plan";
  if (!x.feeds.length) return "no planned order uses it";
  return el("span", { class: "feeds" }, ...x.feeds.map((f) => el("div", { "data-order": f.order },
    `${f.order} ${f.step} (${f.material}) from `, when(f.start), margin(f.margin_min))));
}

function deliveries(status) {
  const d = status.deliveries;
  return [el("h2", {}, "Deliveries"), table(["Delivery", "Lorry", "Position", "Distance (km)", "Arrival", "Material ready", "Needed",
    "Production orders it feeds", "Supplier orders", "Materials", "On time?"],
    Object.values(d.deliveries).map((x) => [x.delivery, el("span", { title: x.lorry }, x.lorry_name || x.lorry), FIX_WORDS[x.fix] || x.fix,
      window.taktlineTime.rounded(x.distance_km), x.arrived_at ? el("span", {}, "arrived ", when(x.arrived_at)) : x.eta ? el("span", {}, "ETA ", when(x.eta)) : "—",
      readyWhy(x), when(x.needed), feeds(x),
      x.orders.join(", "), x.materials.join(", "),
      x.late ? el("span", { class: "flag" }, `LATE${x.late_blame ? ` (${x.late_blame === "shipping" ? "shipped late" : "on the road"})` : ""}`) : x.ready ? "on time" : "—"]),
    "no deliveries on the way")];
}
