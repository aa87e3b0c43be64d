// The Corrections page: a form whose pick lists come from the plant's master data
// (GET /api/corrections/choices: stations, operators by name, tools, places, stop reasons), the
// fields each kind of correction needs and nothing else, times typed in the plant's time zone,
// and the server's refusal shown in its own words (nothing is recorded then). Loaded before
// app.js, which draws the view `corrections(status)` on every status push (keeping the form and
// replacing only the table of recorded corrections); `el` and `table` are app.js's helpers,
// looked up when the view is drawn.
"use strict";

const correctionChoices = fetch("/api/corrections/choices")
  .then((response) => (response.ok ? response.json() : null))
  .catch(() => null);
const correctionLabels = {};
const correctionNames = {};  // badge or tool tag -> the operator's or tool's name
let correctionZone = "UTC";
correctionChoices.then((offered) => {
  if (!offered) return;
  for (const k of offered.kinds) correctionLabels[k.kind] = k.label;
  for (const named of [...offered.operators, ...offered.tools]) correctionNames[named.tag] = named.name;
  correctionZone = offered.timezone;
});

// A UTC time as the plant's wall clock, 24-hour ("2026-03-23 07:45:00").
function plantTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString("sv-SE", { timeZone: correctionZone });
}

function correctionField(label, input, need) {
  return [el("label", { htmlFor: input.id, "data-need": need }, label), input];
}

function correctionSelect(name, options, placeholder) {
  const select = el("select", { name, id: `correction-${name}` }, el("option", { value: "" }, placeholder));
  for (const [value, label] of options) select.append(el("option", { value }, label));
  return select;
}

function correctionForm(form, offered) {
  const kinds = offered.kinds.map((k) => [k.kind, k.label]);
  const kind = correctionSelect("correction", kinds, "choose what to correct…");
  const station = correctionSelect("station", offered.stations.map((s) => [s.station, s.name === s.station ? s.station : `${s.name} (${s.station})`]), "choose a station…");
  const operator = correctionSelect("operator", offered.operators.map((o) => [o.tag, o.name]), "choose an operator…");
  const tool = correctionSelect("tool", offered.tools.map((t) => [t.tag, t.name]), "choose a tool…");
  const reasonList = correctionSelect("stop", offered.stop_reasons.map((r) => [r, r.replace("_", " ")]), "choose a stop reason…");
  const place = correctionSelect("place", offered.places.map((p) => [p.place, p.name]), "choose where it is…");
  const count = el("input", { name: "count", id: "correction-count", type: "number", min: 1, step: 1 });
  const voidsOf = el("input", { name: "voids_instance", id: "correction-voids_instance", placeholder: "source instance of the event" });
  const voidsSeq = el("input", { name: "voids_seq", id: "correction-voids_seq", type: "number", min: 1, placeholder: "its number (seq)" });
  const at = el("input", { name: "at", id: "correction-at", placeholder: "e.g. 2026-12-06 14:30; empty: now", autocomplete: "off" });
  const reason = el("input", { name: "reason", id: "correction-reason", placeholder: "why (e.g. forgot to tap out)" });
  form.replaceChildren(
    ...correctionField("What", kind, "always"),
    ...correctionField("Station", station, "station"),
    ...correctionField("Operator", operator, "operator"),
    ...correctionField("Tool", tool, "tool"),
    ...correctionField("Stop reason", reasonList, "stop"),
    ...correctionField("Where it is", place, "place"),
    ...correctionField("How many", count, "count"),
    ...correctionField("Event source", voidsOf, "voids"),
    ...correctionField("Event number", voidsSeq, "voids"),
    ...correctionField(`When (plant time, ${offered.timezone})`, at, "always"),
    ...correctionField("Why", reason, "always"),
    el("span"), el("button", { type: "submit" }, "Record correction"));
  const shown = (k) => {
    const needs = (offered.kinds.find((x) => x.kind === k) || { needs: [] }).needs;
    const uses = new Set(["always"]);
    if (needs.includes("station")) uses.add("station");
    if (needs.includes("voids")) uses.add("voids");
    if (needs.includes("tag")) uses.add(k === "badge_out" ? "operator" : "tool");
    if (needs.includes("value")) uses.add(k === "stop_reason" ? "stop" : k === "tool_location" ? "place" : "count");
    for (const label of form.querySelectorAll("label[data-need]")) {
      const hidden = !uses.has(label.dataset.need);
      label.hidden = hidden;
      form.querySelector(`#${label.htmlFor}`).hidden = hidden;  // this form's: a redraw builds another
    }
  };
  kind.addEventListener("change", () => shown(kind.value));
  shown("");
}

function correctionBody(form) {
  const get = (name) => form.elements[name] && !form.elements[name].hidden ? form.elements[name].value.trim() : "";
  const body = { correction: get("correction"), reason: get("reason") };
  if (get("at")) body.at = get("at");
  if (get("station")) body.station = get("station");
  if (get("operator")) body.tag = get("operator");
  if (get("tool")) body.tag = get("tool");
  if (get("stop")) body.value = get("stop");
  if (get("place")) body.value = get("place");
  if (get("count")) body.value = Number(get("count"));
  if (get("voids_instance") || get("voids_seq")) body.voids = [get("voids_instance"), Number(get("voids_seq"))];
  return body;
}

function corrections(status) {
  const form = el("form", { class: "correction", id: "correction-form" }, el("span", { class: "empty" }, "loading the plant's lists…"));
  const result = el("div", { id: "result", role: "status" });
  correctionChoices.then((offered) => {
    if (!offered) { form.replaceChildren(el("p", { class: "empty" }, "corrections are not enabled on this server")); return; }
    correctionForm(form, offered);
    form.dataset.ready = "true";
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.className = "";
    const response = await fetch("/api/corrections", { method: "POST", headers: await window.taktlineAuth.headers(), body: JSON.stringify(correctionBody(form)) });
    const answer = await response.json().catch(() => ({}));
    if (response.ok) { result.textContent = `recorded: ${answer.payload ? correctionLabels[answer.payload.correction] || answer.payload.correction : "correction"}`; form.reset(); form.elements.correction.dispatchEvent(new Event("change")); }
    else { result.textContent = answer.detail || `refused (${response.status})`; result.className = "flag"; }
  });
  const kindWords = (k) => (correctionLabels[k] || k);
  return [el("h2", {}, "Corrections"), form, result, el("h2", {}, "Recorded"),
    table(["What", "By", "Why", `Fact at (${correctionZone})`, "Recorded", "Station", "Operator or tool", "Value", "Effect"],
      status.corrections.slice().reverse().map((c) => [kindWords(c.correction), c.by, c.reason, plantTime(c.at), plantTime(c.recorded), c.station ? machineName(c.station) : "", c.tag ? (correctionNames[c.tag] ? named(correctionNames[c.tag], `tag ${c.tag}`) : tagName(c.tag)) : "", c.value, c.effect]), "none")];
}
