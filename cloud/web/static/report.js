// The Report page: the resource status report of a period (GET /api/report). Without a period in
// the address it opens on the default one (GET /api/report/period: the last completed shift that
// holds data, on the plant's clock). Shown: the plant's downtime Pareto as inline SVG (bars:
// minutes by reason, longest first; line: cumulative share), the machine and process tables with
// units and explained headers (hover), a cycle-time chart per process (actual against standard
// seconds per cycle over the period, inline SVG), CSV downloads of each table (every column), and
// the learned standard times (GET /api/plan/times, when there is a plan). Loaded after app.js,
// whose helpers come through window.taktline; drawn on load and on "Show", never on live pushes
// (a report folds the whole log). Its styles are in report.css.
"use strict";

(() => {
  const { el, table, named, when, views } = window.taktline;
  const clock = window.taktlineTime;
  const SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  function percent(value) {
    return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`;
  }

  const minutes = (value) => (value === null || value === undefined ? "—" : value < 1 / 60 ? "0 min" : clock.duration(value * 60));
  // The period's fields: the plant's clock, 24-hour ("2026-03-23 06:00"; a "T" is read too).
  const toField = (date) => clock.toInput(date).replace("T", " ");
  const fromField = (text) => clock.fromInput((text || "").trim().replace(/^(\S+)\s+/, "$1T"));
  const secs = (value) => (value === null || value === undefined ? "—" : `${clock.rounded(value)} s`);

  function pareto(rows) {
    if (!rows.length) return el("p", { class: "empty", id: "pareto" }, "no downtime in the period");
    const width = 640, height = 260, left = 48, right = 48, top = 16, bottom = 70;
    const plotW = width - left - right, plotH = height - top - bottom;
    const most = Math.max(...rows.map((r) => r.minutes)) || 1;
    const step = plotW / rows.length;
    const chart = svg("svg", { id: "pareto", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      "aria-label": "downtime Pareto" });
    chart.append(svg("line", { x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, stroke: "#8a93a3" }));
    chart.append(svg("text", { x: 4, y: top + 8, "font-size": 11, fill: "#5b6475" }, minutes(most)));
    chart.append(svg("text", { x: width - right + 4, y: top + 8, "font-size": 11, fill: "#5b6475" }, "100 %"));
    const points = [];
    rows.forEach((row, i) => {
      const h = (row.minutes / most) * plotH;
      const x = left + i * step + step * 0.15;
      const bar = svg("rect", { x, y: top + plotH - h, width: step * 0.7, height: h,
        fill: row.reason === "unexplained" ? "#8a93a3" : "#d93025", "data-reason": row.reason });
      bar.append(svg("title", {}, `${row.reason}: ${minutes(row.minutes)} in ${row.stops} stops, ${percent(row.share)} of the downtime`));
      chart.append(bar);
      chart.append(svg("text", { x: x + step * 0.35, y: top + plotH + 14, "font-size": 11, "text-anchor": "middle" },
        row.reason.replace("_", " ")));
      chart.append(svg("text", { x: x + step * 0.35, y: top + plotH + 28, "font-size": 10, "text-anchor": "middle",
        fill: "#5b6475" }, minutes(row.minutes)));
      points.push(`${left + i * step + step / 2},${top + plotH - row.cumulative_share * plotH}`);
    });
    chart.append(svg("polyline", { points: points.join(" "), fill: "none", stroke: "#1d2330", "stroke-width": 2 }));
    for (const point of points) {
      const [cx, cy] = point.split(",");
      chart.append(svg("circle", { cx, cy, r: 3, fill: "#1d2330" }));
    }
    return chart;
  }

  // Ticks at round steps of the plant's clock across [a, b] ms: [ms, label].
  function timeTicks(a, b, most) {
    const steps = [5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440].map((m) => m * 60000);
    const span = Math.max(1, b - a);
    const step = steps.find((s) => span / s <= most) || steps[steps.length - 1];
    const out = [];
    const first = a - (((a + clock.offset(new Date(a))) % step) + step) % step;
    for (let t = first; t <= b; t += step) if (t >= a) out.push([t, clock.format(new Date(t), { date: step >= 86400000 ? true : false })]);
    return out;
  }

  // Actual against standard seconds per cycle of one process over the period (its buckets).
  function cycleChart(process, series, from, to) {
    const width = 460, height = 190, left = 44, right = 10, top = 12, bottom = 34;
    const plotW = width - left - right, plotH = height - top - bottom;
    const a = Date.parse(from), b = Date.parse(to), bucket = series.bucket_min * 60000;
    const values = series.points.flatMap((p) => [p.actual_s, p.standard_s]).filter((v) => v !== null);
    const most = Math.max(...values) * 1.15 || 1;
    const x = (ms) => left + ((ms - a) / Math.max(1, b - a)) * plotW;
    const y = (s) => top + plotH - (s / most) * plotH;
    const chart = svg("svg", { class: "cycle-chart", "data-process": process, viewBox: `0 0 ${width} ${height}`,
      width, height, role: "img", "aria-label": `cycle time of ${process}` });
    chart.append(svg("line", { x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, stroke: "#8a93a3" }));
    chart.append(svg("line", { x1: left, y1: top, x2: left, y2: top + plotH, stroke: "#8a93a3" }));
    for (const [t, label] of timeTicks(a, b, 6)) {
      chart.append(svg("line", { x1: x(t), y1: top + plotH, x2: x(t), y2: top + plotH + 4, stroke: "#8a93a3" }));
      chart.append(svg("text", { class: "tick", x: x(t), y: top + plotH + 15, "text-anchor": "middle" }, label));
    }
    for (const f of [0, 0.5, 1]) {
      chart.append(svg("text", { x: left - 4, y: y(most * f / 1.15) + 3, "text-anchor": "end" }, `${clock.rounded(most * f / 1.15)} s`));
    }
    const mid = (p) => Date.parse(p.at) + bucket / 2;
    const line = (key, cls) => {
      const known = series.points.filter((p) => p[key] !== null);
      if (!known.length) return;
      chart.append(svg("polyline", { class: cls, fill: "none", "stroke-width": 2,
        points: known.map((p) => `${x(mid(p))},${y(p[key])}`).join(" ") }));
    };
    line("standard_s", "standard");
    line("actual_s", "actual");
    for (const p of series.points) {
      const dot = svg("circle", { cx: x(mid(p)), cy: y(p.actual_s), r: 3, fill: "#1a73e8" });
      dot.append(svg("title", {}, `${clock.format(p.at)}–${clock.format(new Date(Date.parse(p.at) + bucket))}: `
        + `${secs(p.actual_s)} per cycle over ${p.cycles} cycles (standard ${secs(p.standard_s)})`));
      chart.append(dot);
    }
    chart.append(svg("text", { x: left + plotW, y: height - 3, "text-anchor": "end" },
      `each point: ${series.bucket_min < 60 ? `${series.bucket_min} min` : `${series.bucket_min / 60} h`} · plant time (${clock.label(new Date(a))})`));
    return el("figure", {}, el("figcaption", {}, `${process} — seconds per cycle`), chart);
  }

  function cycleCharts(report) {
    const drawn = report.processes.filter((p) => p.cycle_series && p.cycle_series.points.length);
    if (!drawn.length) return [el("p", { class: "empty", id: "cycle-charts" }, "no cycles counted in the period")];
    return [el("div", { class: "cycle-charts", id: "cycle-charts" }, ...drawn.map((p) => cycleChart(p.process, p.cycle_series, report.from, report.to))),
      el("p", { class: "legend" }, el("b", {}, "— actual"), " seconds of running per cycle (mean of the counts in each interval); ",
        el("b", {}, "- - standard"), " seconds per unit of the job steps run (the plant model's routing).")];
  }

  // The machine and process tables' columns: grouped under a heading that names the unit, each
  // header explained on hover (its title); `detail` columns are rarely needed and shown only
  // with "All columns" (the CSV files hold every column either way).
  const COLUMNS = [
    { key: "planned", group: "Time (h min)", head: "Planned", tip: "planned time: the calendar's shifts minus breaks and closures, within the period" },
    { key: "running", group: "Time (h min)", head: "Running", tip: "running time within planned time" },
    { key: "down", group: "Time (h min)", head: "Down", tip: "stopped with a job allocated (downtime, by reason in the Pareto)" },
    { key: "idle", group: "Time (h min)", head: "Idle", tip: "stopped with no job allocated", detail: true },
    { key: "no_data", group: "Time (h min)", head: "No data", tip: "planned time before the machine's first known state", detail: true },
    { key: "output", group: "Output (pcs)", head: "Output", tip: "units counted: cycles (or good + scrap where no cycles are counted)" },
    { key: "good_scrap", group: "Output (pcs)", head: "Good / scrap", tip: "good and scrap pieces counted", detail: true },
    { key: "avg_cycle", group: "Cycle time (s)", head: "Avg cycle", tip: "average cycle time: all running time divided by the units counted (short stops while running included)", detail: true },
    { key: "median_cycle", group: "Cycle time (s)", head: "Median cycle", tip: "median cycle time: the middle of the cycle times between counts — a typical cycle, not pulled up by a few long ones" },
    { key: "standard", group: "Cycle time (s)", head: "Standard", tip: "standard seconds per unit of the job steps run (the plant model's routing)" },
    { key: "availability", group: "OEE (%)", head: "Availability", tip: "running time ÷ planned time" },
    { key: "performance", group: "OEE (%)", head: "Performance", tip: "standard time × units ÷ running time" },
    { key: "quality", group: "OEE (%)", head: "Quality", tip: "good ÷ (good + scrap)" },
    { key: "oee", group: "OEE (%)", head: "OEE", tip: "availability × performance × quality" },
    { key: "notes", group: "", head: "Unknown because", tip: "why a figure is unknown (—) instead of made up", text: true },
  ];

  const share = (value) => (value === null || value === undefined ? "—" : (value * 100).toFixed(1));
  const plain = (value) => (value === null || value === undefined ? "—" : clock.rounded(value));

  function figures(row) {
    const planned = row.planned_basis === "period"
      ? el("span", { class: "named", title: "no calendar known for it: the whole period counts as planned" }, `${minutes(row.planned_min)} *`)
      : minutes(row.planned_min);
    return {
      planned, running: minutes(row.run_min), down: minutes(row.downtime_min), idle: minutes(row.idle_min),
      no_data: minutes(row.no_data_min), output: plain(row.total_count), good_scrap: `${plain(row.good)} / ${plain(row.scrap)}`,
      avg_cycle: plain(row.avg_cycle_s), median_cycle: plain(row.median_cycle_s), standard: plain(row.standard_s),
      availability: share(row.availability), performance: share(row.performance), quality: share(row.quality),
      oee: share(row.oee), notes: row.notes || "",
    };
  }

  // A table with a row of column groups above the headers; `lead` are the first, text columns
  // ([key, head, tip]); each cell carries its column's key (data-col), detail columns a class.
  function grouped(lead, rows, empty, id) {
    const columns = [...lead.map(([key, head, tip]) => ({ key, head, tip, group: "", text: true })), ...COLUMNS];
    const groups = [];
    for (const c of columns) {
      const last = groups[groups.length - 1];
      if (last && last.name === c.group && c.group) last.columns.push(c); else groups.push({ name: c.group, columns: [c] });
    }
    const top = el("tr", { class: "groups" }, ...groups.map((g) => el("th", { class: g.name ? "group" : "", "data-all": g.columns.length,
      "data-main": g.columns.filter((c) => !c.detail).length, colSpan: g.columns.filter((c) => !c.detail).length }, g.name)));
    const cls = (c) => [c.detail ? "detail-col" : "", c.text ? "" : "num"].filter(Boolean).join(" ");
    const heads = el("tr", {}, ...columns.map((c) => el("th", { class: cls(c), title: c.tip || "", "data-col": c.key }, c.head)));
    const body = el("tbody");
    if (!rows.length) body.append(el("tr", {}, el("td", { class: "empty", colSpan: columns.length }, empty)));
    for (const row of rows) {
      body.append(el("tr", {}, ...columns.map((c) => {
        const value = row[c.key];
        return el("td", { class: cls(c), "data-col": c.key }, value instanceof Node ? value : String(value ?? "—"));
      })));
    }
    return el("table", { id, class: "report-table" }, el("thead", {}, top, heads), body);
  }

  // Shows or hides the detail columns of every report table (and fits the group headings).
  function showDetails(on) {
    document.querySelectorAll("#report .report-table").forEach((t) => {
      t.classList.toggle("show-details", on);
      t.querySelectorAll("tr.groups th").forEach((th) => { th.colSpan = Number(on ? th.dataset.all : th.dataset.main) || 1; });
    });
    const button = document.getElementById("report-details");
    if (button) {
      button.setAttribute("aria-pressed", String(on));
      button.textContent = on ? "Fewer columns" : "All columns (idle, no data, good / scrap, average cycle)";
    }
  }

  const legend = () => el("p", { class: "legend", id: "report-legend" },
    el("b", {}, "Avg cycle"), " is all running time divided by the units counted, so short stops while the machine runs raise it; ",
    el("b", {}, "Median cycle"), " is the middle of the cycle times measured between counts — a typical cycle. ",
    "An average well above the median means some long cycles or short stops. Hover a header for its meaning; the heading above ",
    "names the unit (times in hours and minutes, cycle times in seconds, OEE and its factors in per cent); — is unknown (see the last column). ",
    "\"All columns\" shows idle and no-data time, good and scrap pieces and the average cycle; the CSV files hold every column in minutes and seconds.");

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

  const RULES = {
    last_shift: "the last completed shift",
    current_shift: "the current shift so far (no completed shift holds data yet)",
    last_24h: "the last 24 hours (no shift calendar or no data)",
  };

  async function show(out, start, end, chosen) {
    const query = `from=${encodeURIComponent(start)}&to=${encodeURIComponent(end)}`;
    out.replaceChildren(el("p", { class: "empty" }, "folding the event log…"));
    const response = await fetch(`/api/report?${query}`);
    const report = await response.json();
    if (!response.ok) { out.replaceChildren(el("p", { class: "flag", id: "report-error" }, report.detail)); return; }
    const links = el("p", {}, "CSV (every column): ", ...["machines", "processes", "downtime"].flatMap((t) =>
      [el("a", { href: `/api/report.csv?table=${t}&${query}`, download: `${t}.csv` }, t), " "]));
    const machines = grouped([["machine", "Machine", "the machine (its station on hover)"], ["process", "Process", "the product steps it serves"]],
      report.machines.map((m) => ({ machine: named(m.name, `station ${m.station}`), process: m.process, ...figures(m) })), "no machines", "report-machines");
    const processes = grouped([["process", "Process", "product steps, summed over their machines"], ["machines", "Machines", "how many machines serve it"]],
      report.processes.map((p) => ({ process: p.process, machines: p.machines, ...figures(p) })), "no processes", "report-processes");
    const details = el("button", { type: "button", id: "report-details", class: "details-toggle", "aria-pressed": "false" });
    details.addEventListener("click", () => showDetails(details.getAttribute("aria-pressed") !== "true"));
    const span = clock.duration((Date.parse(report.to) - Date.parse(report.from)) / 1000);
    const period = el("p", { id: "report-period", "data-rule": chosen ? chosen.rule : "asked" },
      chosen ? `${RULES[chosen.rule] || chosen.rule}${chosen.calendar ? ` (calendar ${chosen.calendar})` : ""}: ` : "",
      when(report.from), " to ", when(report.to), ` (${span}, plant time ${clock.label(new Date(report.from))})`,
      ` · ${report.events_folded.toLocaleString("en-US")} events folded`);
    out.replaceChildren(period, links,
      el("h2", {}, "Downtime by reason (plant)"), pareto(report.downtime),
      table(["#", "Reason", "OEE loss", "Down time", "Stops", "Share", "Cumulative"],
        report.downtime.map((d) => [d.rank, d.reason.replace("_", " "), d.loss, minutes(d.minutes), d.stops, percent(d.share), percent(d.cumulative_share)]), "no downtime"),
      el("h2", {}, "Machines ", details), machines, legend(), el("h2", {}, "Processes"), processes,
      el("h2", {}, "Cycle time per process"), ...cycleCharts(report), ...await learned());
    showDetails(false);
    document.body.dataset.report = "shown";
  }

  // The default period (the last completed shift with data), or the last 24 hours to the hour.
  async function defaultPeriod() {
    const response = await fetch("/api/report/period");
    if (response.ok) return response.json();
    const end = new Date(); end.setMinutes(0, 0, 0); end.setHours(end.getHours() + 1);
    return { from: new Date(end.getTime() - 24 * 3600 * 1000).toISOString(), to: end.toISOString(), rule: "last_24h", calendar: null };
  }

  let opened = false;  // drawn (or being drawn) since the page loaded: a plan push changes nothing
  views.report = {
    async draw(view, event) {
      if (event !== null && opened) return;  // a plan push
      opened = true;
      // The period from the address (/report?from=..&to=.., shareable), else the default one.
      const asked = new URLSearchParams(location.search);
      let start = new Date(asked.get("from") || NaN), end = new Date(asked.get("to") || NaN);
      let chosen = null;
      if (isNaN(start) || isNaN(end)) {
        chosen = await defaultPeriod();
        [start, end] = [new Date(chosen.from), new Date(chosen.to)];
      }
      const field = (name, date) => el("input", { type: "text", name, id: `report-${name}`, value: toField(date), size: 16,
        placeholder: "2026-03-23 06:00", title: "plant time, 24-hour clock: YYYY-MM-DD HH:MM", autocomplete: "off" });
      const from = field("from", start), to = field("to", end);
      const out = el("div", { id: "report" });
      const form = el("form", { id: "report-form", class: "report-period" },
        el("label", {}, "From ", from), " ", el("label", {}, "to ", to), ` (plant time, ${clock.label(start)}) `,
        el("button", { type: "submit" }, "Show"));
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        let [a, b] = [fromField(from.value), fromField(to.value)];
        if (a === null || b === null) {
          out.replaceChildren(el("p", { class: "flag", id: "report-error" }, "give both times as YYYY-MM-DD HH:MM (24-hour, plant time)"));
          return;
        }
        [a, b] = [a.toISOString(), b.toISOString()];
        history.replaceState(null, "", `/report?from=${encodeURIComponent(a)}&to=${encodeURIComponent(b)}`);
        show(out, a, b, null);
      });
      view.replaceChildren(el("h2", {}, "Resource status report"), form, out);
      await show(out, start.toISOString(), end.toISOString(), chosen);
    },
  };
})();
