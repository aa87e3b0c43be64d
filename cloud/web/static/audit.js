// The Audit page (admins): every state-changing request the server answered, newest first, read
// from the event log through /api/audit/requests. Loaded after app.js.
"use strict";

(() => {
  const { el, table, when, views } = window.taktline;

  async function draw(view) {
    const response = await fetch("/api/audit/requests?limit=500");
    const body = await response.json();
    if (!response.ok) { view.replaceChildren(el("h2", {}, "Audit"), el("p", { class: "flag" }, body.detail)); return; }
    const rows = body.map((r) => [when(r.at), r.actor, r.role, r.via, r.method, r.route, r.status, r.address]);
    view.replaceChildren(el("h2", {}, "Audit of changes"),
      table(["At", "Who", "Role", "By", "Method", "Route", "Answer", "From"], rows, "no changes yet"));
    document.body.dataset.rendered = `audit-${body.length}`;
  }

  views.audit = { draw };
})();
