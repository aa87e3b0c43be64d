// The Report page: the resource status report of a chosen period (GET /api/report), with the
// plant's downtime Pareto drawn as inline SVG (bars: minutes by reason, longest first; line:
// cumulative share), the machine and process tables, CSV downloads of each table, and the
// learned standard times against the standard (GET /api/plan/times, when there is a plan). Loaded
// after app.js, whose helpers come through window.taktline; drawn on load and on "Show", never
// on live pushes (a report folds the whole log).
"use strict";

(() => {
  const { el, table, named, when, views } = window.taktline;
  const clock = window.taktlineTime;
  const SVG = "http://www.w3.org/2000/svg";
  // The report's few styles travel with it (app.css belongs to every page).
  document.head.append(el("style", {}, "#report table { font-size: 12px; margin-bottom: .8rem; }"
    + " #report th, #report td { padding: .25rem .45rem; }"
    + " #report-machines td:last-child, #report-processes td:last-child { min-width: 16rem; font-size: 11px; color: #5b6475; }"
    + " #report-form { margin-bottom: .6rem; } #pareto { background: #fff; border-radius: 6px; }"));

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  // The pickers show the plant's clock (time.js); the API gets UTC.
  const localValue = (date) => clock.toInput(date);

  function percent(value) {
    return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`;
  }

  function pareto(rows) {
    if (!rows.length) return el("p", { class: "empty", id: "pareto" }, "no downtime in the period");
    const width = 640, height = 260, left = 48, right = 48, top = 16, bottom = 70;
    const plotW = width - left - right, plotH = height - top - bottom;
    const most = Math.max(...rows.map((r) => r.minutes)) || 1;
    const step = plotW / rows.length;
    const chart = svg("svg", { id: "pareto", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      "aria-label": "downtime Pareto" });
    chart.append(svg("line", { x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, stroke: "#8a93a3" }));
    chart.append(svg("text", { x: 4, y: top + 8, "font-size": 11, fill: "#5b6475" }, `${most.toFixed(0)} min`));
    chart.append(svg("text", { x: width - right + 4, y: top + 8, "font-size": 11, fill: "#5b6475" }, "100 %"));
    const points = [];
    rows.forEach((row, i) => {
      const h = (row.minutes / most) * plotH;
      const x = left + i * step + step * 0.15;
      const bar = svg("rect", { x, y: top + plotH - h, width: step * 0.7, height: h,
        fill: row.reason === "unexplained" ? "#8a93a3" : "#d93025", "data-reason": row.reason });
      bar.append(svg("title", {}, `${row.reason}: ${row.minutes} min, ${percent(row.share)}`));
      chart.append(bar);
      chart.append(svg("text", { x: x + step * 0.35, y: top + plotH + 14, "font-size": 11, "text-anchor": "middle" },
        row.reason.replace("_", " ")));
      chart.append(svg("text", { x: x + step * 0.35, y: top + plotH + 28, "font-size": 10, "text-anchor": "middle",
        fill: "#5b6475" }, `${row.minutes} min`));
      points.push(`${left + i * step + step / 2},${top + plotH - row.cumulative_share * plotH}`);
    });
    chart.append(svg("polyline", { points: points.join(" "), fill: "none", stroke: "#1d2330", "stroke-width": 2 }));
    for (const point of points) {
      const [cx, cy] = point.split(",");
      chart.append(svg("circle", { cx, cy, r: 3, fill: "#1d2330" }));
    }
    return chart;
  }

  function figures(row) {
    return [...[row.planned_min, row.run_min, row.downtime_min, row.idle_min, row.no_data_min,
      row.total_count, row.good, row.scrap, row.avg_cycle_s, row.median_cycle_s, row.standard_s].map((v) => clock.rounded(v)),
      percent(row.utilisation), percent(row.availability), percent(row.performance),
      percent(row.quality), percent(row.oee), row.notes];
  }

  const HEADS = ["Planned min", "Run min", "Down min", "Idle min", "No data min", "Count", "Good",
    "Scrap", "Avg cycle s", "Median s", "Standard s", "Utilisation", "Availability", "Performance",
    "Quality", "OEE", "Unknown because"];

  function seconds(value) {
    return clock.rounded(value, 4);
  }

  // Standard vs learned per product step and machine: the current rule's result, not the period's.
  async function learned() {
    const response = await fetch("/api/plan/times");
    if (!response.ok) return [];
    const times = await response.json();
    const rows = table(["Product", "Step", "Machine", "Standard s/unit", "Learned s/unit", "Jobs kept",
      "Dropped", "Accepted s/unit", "Accepted by", "Planned s/unit"],
      times.times.map((t) => [t.product, t.step, t.station, seconds(t.standard_s), seconds(t.learned_s),
        t.jobs, t.dropped, seconds(t.accepted_s), t.accepted_by || "—", seconds(t.plan_s)]),
      "no finished jobs yet");
    rows.id = "report-learned";
    return [el("h2", {}, `Standard vs learned times (plan takes learned times: ${times.mode === "auto"
      ? "automatically" : "once a planner accepts them"})`), rows];
  }

  async function show(out, start, end) {
    const query = `from=${encodeURIComponent(start)}&to=${encodeURIComponent(end)}`;
    out.replaceChildren(el("p", { class: "empty" }, "folding the event log…"));
    const response = await fetch(`/api/report?${query}`);
    const report = await response.json();
    if (!response.ok) { out.replaceChildren(el("p", { class: "flag", id: "report-error" }, report.detail)); return; }
    const links = el("p", {}, "CSV: ", ...["machines", "processes", "downtime"].flatMap((t) =>
      [el("a", { href: `/api/report.csv?table=${t}&${query}`, download: `${t}.csv` }, t), " "]));
    const machines = table(["Machine", "Process", "Planned by", ...HEADS],
      report.machines.map((m) => [named(m.name, `station ${m.station}`), m.process, m.planned_basis, ...figures(m)]), "no machines");
    machines.id = "report-machines";
    const processes = table(["Process", "Machines", ...HEADS],
      report.processes.map((p) => [p.process, p.machines, ...figures(p)]), "no processes");
    processes.id = "report-processes";
    out.replaceChildren(
      el("p", {}, when(report.from), " to ", when(report.to), ` · ${report.events_folded} events folded`), links,
      el("h2", {}, "Downtime by reason (plant)"), pareto(report.downtime),
      table(["#", "Reason", "OEE loss", "Minutes", "Stops", "Share", "Cumulative"],
        report.downtime.map((d) => [d.rank, d.reason, d.loss, d.minutes, d.stops, percent(d.share), percent(d.cumulative_share)]), "no downtime"),
      el("h2", {}, "Machines"), machines, el("h2", {}, "Processes"), processes, ...await learned());
    document.body.dataset.report = "shown";
  }

  views.report = {
    draw(view, event) {
      if (event !== null && document.getElementById("report-form")) return;  // a plan push
      // The period from the address (/report?from=..&to=.., shareable), else the last 24 h.
      const asked = new URLSearchParams(location.search);
      let end = new Date(asked.get("to") || NaN);
      if (isNaN(end)) { end = new Date(); end.setMinutes(0, 0, 0); end.setHours(end.getHours() + 1); }
      let start = new Date(asked.get("from") || NaN);
      if (isNaN(start)) start = new Date(end.getTime() - 24 * 3600 * 1000);
      const from = el("input", { type: "datetime-local", name: "from", id: "report-from", value: localValue(start) });
      const to = el("input", { type: "datetime-local", name: "to", id: "report-to", value: localValue(end) });
      const out = el("div", { id: "report" });
      const form = el("form", { id: "report-form", class: "report-period" },
        el("label", {}, "From ", from), " ", el("label", {}, "to ", to), " ",
        el("button", { type: "submit" }, "Show"));
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        let [a, b] = [clock.fromInput(from.value), clock.fromInput(to.value)];
        if (a === null || b === null) { out.replaceChildren(el("p", { class: "flag", id: "report-error" }, "give both times")); return; }
        [a, b] = [a.toISOString(), b.toISOString()];
        history.replaceState(null, "", `/report?from=${encodeURIComponent(a)}&to=${encodeURIComponent(b)}`);
        show(out, a, b);
      });
      view.replaceChildren(el("h2", {}, "Resource status report"), form, out);
      show(out, start.toISOString(), end.toISOString());
    },
  };
})();
