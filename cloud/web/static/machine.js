// The Machine page (/machines/{station}), drawn from GET /api/machines/{station}: the state
// timeline as inline SVG with a time axis on the plant's clock, a legend with each state's time
// and every stretch's start, end and duration on hover; the state history newest first, paged
// (MACHINE_PAGE rows a page); the machine's upcoming job steps from the plan; its job steps by
// order and step (the ticket's tag on hover), the newest 20, with actual seconds per cycle
// against the standard.
// Loaded before app.js, whose `machine()` calls `machinePage` on every status push; `el`, `table`,
// `named` and `when` are app.js's helpers, looked up when the page is drawn. The page and the
// timeline's span a person chose survive the pushes (`machineChoice`).
"use strict";

const MACHINE_PAGE = 50;
const MACHINE_JOBS = 20;  // the job steps shown, newest first
const MACHINE_SPANS = [["1 h", 3600e3], ["8 h", 8 * 3600e3], ["24 h", 24 * 3600e3], ["all kept", Infinity]];
const MACHINE_STATES = [["RUNNING", "running"], ["STOPPED", "stopped (a job allocated)"], ["IDLE", "idle (no job)"]];
const machineChoice = { station: null, page: 0, span: "24 h" };

function machineSvg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// The timeline's stretches with their ends (the next one's start, the last one's: now), ms.
function machineStretches(timeline, now) {
  return timeline.map((s, i) => {
    const start = Date.parse(s.start);
    const end = i + 1 < timeline.length ? Date.parse(timeline[i + 1].start) : Math.max(start, now);
    return { ...s, from: start, to: end };
  });
}

// Ticks at round steps of the plant's clock across [a, b]: [ms, label]; a label carries the date
// when the ticks are days apart, or on the first tick of each day when the span crosses midnight.
function machineTicks(a, b, most) {
  const clock = window.taktlineTime;
  const steps = [1, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080].map((m) => m * 60000);
  const step = steps.find((s) => (b - a) / s <= most) || steps[steps.length - 1];
  const dayOf = (ms) => clock.format(new Date(ms), { date: true }).slice(0, 10);
  const crosses = dayOf(a) !== dayOf(b);
  const out = [];
  let seen = null;
  for (let t = a - ((((a + clock.offset(new Date(a))) % step) + step) % step); t <= b; t += step) {
    if (t < a) continue;
    const day = dayOf(t);
    const dated = step >= 86400000 || (crosses && day !== seen);
    out.push([t, clock.format(new Date(t), { date: dated })]);
    seen = day;
  }
  return out;
}

function machineTimeline(stretches, now) {
  const clock = window.taktlineTime;
  const width = 1000, height = 58, top = 4, bar = 28;
  const chosen = MACHINE_SPANS.find(([label]) => label === machineChoice.span) || MACHINE_SPANS[2];
  const first = stretches.length ? stretches[0].from : now - 3600e3;
  const a = Math.max(first, now - chosen[1]), b = Math.max(now, a + 60e3);
  const x = (ms) => ((Math.min(Math.max(ms, a), b) - a) / (b - a)) * width;
  const chart = machineSvg("svg", { class: "timeline-chart", viewBox: `0 0 ${width} ${height}`, width: "100%",
    role: "img", "aria-label": "state timeline", preserveAspectRatio: "none" });
  chart.append(machineSvg("rect", { class: "nodata", x: 0, y: top, width, height: bar }));
  const totals = {};
  for (const s of stretches) {
    if (s.to <= a || s.from >= b) continue;
    const shown = Math.min(s.to, b) - Math.max(s.from, a);
    totals[s.state] = (totals[s.state] || 0) + shown;
    const rect = machineSvg("rect", { class: `stretch ${s.state}`, x: x(s.from), y: top,
      width: Math.max(0.5, x(s.to) - x(s.from)), height: bar, "data-state": s.state });
    const why = s.reason ? ` — ${s.reason.replace("_", " ")}` : "";
    rect.append(machineSvg("title", {}, `${s.state}${why}: ${clock.format(new Date(s.from))} to ${clock.format(new Date(s.to))}, ${clock.duration((s.to - s.from) / 1000)}`));
    chart.append(rect);
  }
  const labels = el("div", { class: "timeline-labels" });
  for (const [t, label] of machineTicks(a, b, 8)) {
    chart.append(machineSvg("line", { class: "tick-mark", x1: x(t), x2: x(t), y1: top + bar, y2: top + bar + 6 }));
    const tick = el("span", { class: "tick" }, label);
    tick.style.left = `${(x(t) / width) * 100}%`;
    labels.append(tick);
  }
  const span = b - a;
  const legend = el("div", { class: "timeline-legend", id: "timeline-legend" },
    ...MACHINE_STATES.map(([state, words]) => el("span", { class: "key", "data-state": state },
      el("i", { class: `swatch ${state}` }), ` ${words}: ${clock.duration((totals[state] || 0) / 1000)}`,
      span ? ` (${Math.round(((totals[state] || 0) / span) * 100)} %)` : "")),
    el("span", { class: "key" }, el("i", { class: "swatch nodata" }), " no data"),
    el("span", { class: "spans" }, "show: ", ...MACHINE_SPANS.map(([label]) => {
      const button = el("button", { type: "button", class: label === chosen[0] ? "current" : "" }, label);
      button.addEventListener("click", () => { machineChoice.span = label; machineRedraw(); });
      return button;
    })));
  return el("div", { class: "timeline-box", id: "timeline", "data-from": new Date(a).toISOString(), "data-to": new Date(b).toISOString() },
    chart, labels, legend);
}

function machineRedraw() {
  if (window.taktline && window.taktline.redraw) window.taktline.redraw();
}

function machineHistory(stretches) {
  const clock = window.taktlineTime;
  const newest = stretches.slice().reverse();
  const pages = Math.max(1, Math.ceil(newest.length / MACHINE_PAGE));
  machineChoice.page = Math.min(machineChoice.page, pages - 1);
  const first = machineChoice.page * MACHINE_PAGE;
  const rows = newest.slice(first, first + MACHINE_PAGE).map((s, i) => [
    el("span", { class: `state ${s.state}` }, s.state), when(new Date(s.from).toISOString()),
    first + i === 0 ? "now" : when(new Date(s.to).toISOString()), clock.duration((s.to - s.from) / 1000),
    s.reason ? s.reason.replace("_", " ") : "", s.loss, s.corrected_by]);
  const history = table(["State", "From", "Until", "Duration", "Reason", "OEE loss", "Corrected by"], rows, "no events yet");
  history.id = "machine-history";
  const turn = (label, page, enabled) => {
    const button = el("button", { type: "button", disabled: !enabled }, label);
    button.addEventListener("click", () => { machineChoice.page = page; machineRedraw(); });
    return button;
  };
  const pager = el("p", { class: "pager", id: "machine-pager" },
    turn("← newer", machineChoice.page - 1, machineChoice.page > 0),
    ` ${newest.length ? first + 1 : 0}–${Math.min(first + MACHINE_PAGE, newest.length)} of ${newest.length} state changes (page ${machineChoice.page + 1} of ${pages}; the newest 200 are kept) `,
    turn("older →", machineChoice.page + 1, machineChoice.page + 1 < pages));
  return [history, pager];
}

function machineUpcoming(upcoming, now) {
  const clock = window.taktlineTime;
  if (!upcoming || !upcoming.planned) return [el("p", { class: "empty", id: "machine-upcoming" }, "the cloud does not plan: no schedule")];
  const rows = upcoming.steps.map((s) => [named(`${s.order} / ${s.step}`, `order ${s.order}, step ${s.step}`), when(s.start), when(s.end),
    clock.duration((Date.parse(s.end) - Date.parse(s.start)) / 1000),
    s.running ? el("span", { class: "state RUNNING" }, "planned now") : `in ${clock.duration((Date.parse(s.start) - now) / 1000)}`]);
  const out = table(["Job (order / step)", "Planned start", "Planned end", "Duration", "When"], rows, "nothing planned on this machine");
  out.id = "machine-upcoming";
  return upcoming.more ? [out, el("p", { class: "detail" }, `and ${upcoming.more} more planned later`)] : [out];
}

function machineJob(j) {
  if (!j.order) return named(j.ticket, `ticket ${j.ticket}`);
  return named(`${j.order} / ${j.step}`, `ticket ${j.ticket}`);
}

function machineCycle(c) {
  const clock = window.taktlineTime;
  const s = (v) => (v === null || v === undefined ? "—" : `${clock.rounded(v)} s`);
  if (!c.n) return el("p", { class: "empty", id: "cycle-vs-standard" }, "no finished job step yet");
  const against = c.standard_s === null || c.standard_s === undefined
    ? "no standard known for these steps"
    : el("span", {}, `standard ${s(c.standard_s)} per unit: `,
      el("b", { class: c.ratio > 1.1 ? "flag" : "" }, `${Math.round(c.ratio * 100)} % of standard`),
      c.ratio > 1 ? " (slower)" : " (at or faster than standard)");
  return el("p", { id: "cycle-vs-standard" }, `Actual ${s(c.mean_s)} per cycle over ${c.n === 1 ? "the last finished step" : `the last ${c.n} finished steps`} `,
    c.n > 1 ? `(fastest ${s(c.min_s)}, slowest ${s(c.max_s)}, spread ±${s(c.stdev_s)}); ` : "; ", against);
}

function machinePage(m, status, station) {
  const clock = window.taktlineTime;
  if (machineChoice.station !== station) Object.assign(machineChoice, { station, page: 0 });
  const now = status.now ? Math.max(Date.parse(status.now), Date.now()) : Date.now();
  const stretches = machineStretches(m.timeline, now);
  const s = (v) => (v === null || v === undefined ? "—" : `${clock.rounded(v)} s`);
  return [
    el("h2", { title: `station ${station}` }, m.name),
    el("p", {}, el("span", { class: `state ${m.state}`, id: "machine-state" }, stateText(m)),
      m.since ? el("span", {}, " since ", when(m.since)) : "",
      m.loss ? ` · OEE loss: ${m.loss}` : "", m.online === false ? el("span", { class: "offline" }, " OFFLINE ") : "",
      " · job ", m.job ? machineJob({ ticket: m.job, ...(m.job_step || {}) }) : "none"),
    el("h2", {}, "State timeline"), machineTimeline(stretches, now),
    el("h2", {}, "Upcoming schedule (from the plan)"), ...machineUpcoming(m.upcoming, now),
    el("h2", {}, "Cycle time against standard"), machineCycle(m.cycle_time),
    el("h2", {}, "Job steps"),
    (() => {
      const newest = m.jobs.slice().reverse();
      const jobs = table(["Job (order / step)", "Started", "Ended", "Cycles", "Good", "Scrap", "Actual per cycle", "Standard per unit"],
        newest.slice(0, MACHINE_JOBS).map((j) => [machineJob(j), when(j.started), j.ended ? when(j.ended) : "running", j.cycles, j.good, j.scrap,
          s(j.per_cycle_s), s(j.standard_s)]), "none");
      jobs.id = "machine-jobs";
      return el("div", {}, jobs, newest.length > MACHINE_JOBS
        ? el("p", { class: "detail" }, `the newest ${MACHINE_JOBS} of ${newest.length} job steps`) : null);
    })(),
    el("h2", {}, "State history"), ...machineHistory(stretches),
  ];
}
