// The andon board (the landing page, `/`): the plant at a glance on a shop-floor TV. Machines in
// line order with their state and how long ("down 4 min, breakdown"), then the alarms — stops,
// absent operators, late deliveries, late orders — each with its start, its cause and an
// Acknowledge button (supervisors; the server records who and when as an `andon.ack` event).
// Reads GET /api/andon on load, on every status push (at most once a second) and every
// REFRESH_MS besides, so durations move on when nothing happens. A time slider shows the board
// as it was at any moment of the log (GET /api/andon?at=, time travel); "Live" comes back.
// Loaded after app.js.
"use strict";

(() => {
  const { el, named, views } = window.taktline;
  const clock = window.taktlineTime;
  const REFRESH_MS = 10000;
  const START = { stop: "since", absent: "since", late_delivery: "needed", late_order: "due" };
  const KIND = { stop: "STOP", absent: "ABSENT", late_delivery: "LATE DELIVERY", late_order: "LATE ORDER" };
  let target = null;
  let fetching = null;
  let again = false;
  let lastFetch = 0;
  let timer = null;
  const said = new Map();  // alarm id -> what the last acknowledgement attempt answered
  const ACKNOWLEDGING = ["supervisor", "planner", "admin"];
  let mayAcknowledge = true;  // until the session says otherwise (the server decides anyway)
  window.taktlineAuth.session.then((known) => { mayAcknowledge = ACKNOWLEDGING.includes(known.role); });

  async function acknowledge(alarm) {
    const response = await fetch("/api/andon/acks", {
      method: "POST", headers: await window.taktlineAuth.headers(), body: JSON.stringify({ alarm }),
    });
    const answer = await response.json().catch(() => ({}));
    said.set(alarm, response.ok ? null : (answer.detail || `HTTP ${response.status}`));
    await refresh();
  }

  function machineTile(m) {
    const operators = m.operators.length
      ? m.operators.flatMap((o, i) => [i ? ", " : "", named(o.name, `badge ${o.tag}`)]) : ["no operator"];
    return el("a", { class: `andon-machine ${m.state}`, href: `/machines/${encodeURIComponent(m.station)}`, "data-station": m.station },
      el("div", { class: "andon-name", title: `${m.id} · station ${m.station}` }, m.name),
      el("div", { class: "andon-state", "data-state": m.state }, m.text),
      el("div", { class: "andon-detail" }, m.job ? named(m.job, m.ticket ? `ticket ${m.ticket}` : null) : "no job"),
      el("div", { class: "andon-detail" }, ...operators));
  }

  function alarmRow(a) {
    // A stop or an absence lasts since its start; a delivery is needed, an order due, at theirs.
    const ongoing = a.kind === "stop" || a.kind === "absent";
    const took = a.elapsed_s < 0 ? `in ${clock.duration(-a.elapsed_s)}` : `${clock.duration(a.elapsed_s)}${ongoing ? "" : " ago"}`;
    const since = el("span", { class: "andon-since" }, `${START[a.kind] || "since"} `, clock.stamp(a.start), ` · ${took}`);
    let action;
    if (a.ack) {
      action = el("div", { class: "andon-acked" }, `acknowledged by ${a.ack.by} at `, clock.stamp(a.ack.at));
    } else if (past !== null) {
      action = el("div", { class: "andon-acked" }, "not acknowledged then");
    } else if (!mayAcknowledge) {
      action = el("div", { class: "andon-acked" }, "to acknowledge: a supervisor");
    } else {
      const button = el("button", { type: "button", class: "andon-ack" }, "Acknowledge");
      button.addEventListener("click", () => { button.disabled = true; acknowledge(a.id); });
      const refused = said.get(a.id);
      action = el("div", {}, button, refused ? el("div", { class: "flag" }, refused) : null);
    }
    return el("li", { class: `andon-alarm kind-${a.kind}${a.ack ? " acked" : ""}`, "data-alarm": a.id, "data-kind": a.kind },
      el("div", { class: "andon-kind" }, KIND[a.kind] || a.kind),
      el("div", { class: "andon-what" },
        el("div", { class: "andon-text", title: a.subject }, a.text),
        el("div", { class: "andon-cause" }, a.cause),
        since),
      action);
  }

  function summary(board) {
    const c = board.counts;
    const chip = (n, one, many, kind) => el("span", { class: `andon-count${n ? " on" : ""}`, "data-kind": kind }, `${n} ${n === 1 ? one : many}`);
    return el("div", { class: "andon-summary" },
      chip(c.stop, "machine down", "machines down", "stop"), chip(c.absent, "absent", "absent", "absent"),
      chip(c.late_delivery, "late delivery", "late deliveries", "late_delivery"),
      chip(c.late_order, "late order", "late orders", "late_order"),
      el("span", { class: "andon-clock", title: clock.full(board.now) }, clock.format(board.now, { date: false, zone: true })));
  }

  // --- time travel: the slider over the log's span (GET /api/andon/history, ?at=) ----------

  let past = null;  // the moment shown (ms), null: live
  let span = null;  // [from, to] in ms
  let travelling = null;

  function slider() {
    const box = el("div", { class: "andon-travel", id: "travel" });
    const live = el("button", { type: "button", id: "travel-live", disabled: past === null }, "Live");
    live.addEventListener("click", () => { past = null; refresh(); });
    const range = el("input", { type: "range", id: "travel-range", min: 0, max: 1000, value: 1000,
      title: "drag to see the plant as it was" });
    if (span && past !== null) range.value = String(Math.round(1000 * (past - span[0]) / Math.max(1, span[1] - span[0])));
    range.addEventListener("pointerdown", loadSpan);
    range.addEventListener("input", async () => {
      if (!span) await loadSpan();
      if (!span) return;
      past = span[0] + (span[1] - span[0]) * Number(range.value) / 1000;
      clearTimeout(travelling);
      travelling = setTimeout(travel, 120);
    });
    box.append(el("span", {}, "history "), range, " ", live);
    return box;
  }

  async function loadSpan() {
    const answer = await fetch("/api/andon/history");
    if (!answer.ok) return;
    const body = await answer.json();
    if (body.from && body.to) span = [Date.parse(body.from), Date.parse(body.to)];
  }

  async function travel() {
    if (past === null) return;
    const at = new Date(past).toISOString();
    const answer = await fetch(`/api/andon?at=${encodeURIComponent(at)}`);
    if (answer.ok && past !== null) draw(await answer.json());
  }

  function draw(board) {
    if (!target) return;
    const alarms = board.alarms.length
      ? el("ol", { class: "andon-alarms", id: "alarms" }, ...board.alarms.map(alarmRow))
      : el("p", { class: "andon-calm", id: "alarms" }, "No alarms: the plant runs to plan.");
    const then = board.history
      ? el("p", { class: "andon-history", id: "history" }, "As it was at ", clock.stamp(board.now),
        ` — log position ${board.history.position}, rebuilt in ${Math.round(board.history.seconds * 1000)} ms (${board.history.note}).`)
      : null;
    target.replaceChildren(
      el("section", { class: `andon${board.history ? " past" : ""}`, id: "andon", "data-unacknowledged": String(board.unacknowledged) },
        summary(board),
        slider(),
        then,
        el("div", { class: "andon-machines", id: "machines" }, ...board.machines.map(machineTile)),
        el("h2", {}, board.unacknowledged ? `Alarms — ${board.unacknowledged} to acknowledge` : "Alarms"),
        alarms));
    document.body.dataset.rendered = board.now;
  }

  async function refresh() {
    if (past !== null) return null;  // the slider shows a past moment: live pushes wait
    if (fetching) { again = true; return fetching; }
    lastFetch = Date.now();
    fetching = (async () => {
      try {
        const [response] = await Promise.all([fetch("/api/andon"), window.taktlineAuth.session]);
        if (response.ok) draw(await response.json());
      } finally {
        fetching = null;
      }
      if (again) { again = false; await refresh(); }
    })();
    return fetching;
  }

  views.andon = {
    draw(view) {
      target = view;
      document.body.classList.add("andon-page");
      if (timer === null) timer = setInterval(refresh, REFRESH_MS);
      refresh();
    },
    status(view) {
      target = view;
      if (Date.now() - lastFetch >= 1000) refresh();
      else setTimeout(refresh, 1000 - (Date.now() - lastFetch));
    },
  };
})();
