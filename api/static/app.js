// The allocator dashboard: a small single-page view over the JSON API (/v1).
//
// The API key the user signs in with is kept in this tab's sessionStorage and sent as
// "Authorization: Bearer <key>" on each call. It is never put in a URL (views are addressed by
// the fragment, which holds ids only), a cookie or a log. Every text from the API is inserted
// as text (textContent), never as HTML; the plan report (HTML made by the library) is shown in a
// sandboxed frame without scripts.
"use strict";

(function () {
  const KEY = "allocator.key";
  const FINAL = new Set(["done", "failed", "cancelled"]);
  const POLL_MS = 400;
  // a job view stops polling after this long without reaching a final state
  const POLL_GIVE_UP_MS = 15 * 60 * 1000;

  let generation = 0; // bumped on every navigation: stale loads and polls stop
  let download = null; // the report's blob URL, released when the view changes

  // -- small DOM helpers ------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else if (name === "text") el.textContent = String(value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const $ = (id) => document.getElementById(id);

  function fmt(value, digits) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "number") {
      return value.toLocaleString("en-US", { maximumFractionDigits: digits ?? 2 });
    }
    return String(value);
  }

  function pct(gap) {
    return gap === null || gap === undefined ? "–" : `${fmt(gap * 100, 2)} %`;
  }

  function when(iso) {
    if (!iso) return "–";
    return iso.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", " UTC").replace("Z", " UTC");
  }

  function term(name) {
    const units = { hours: "h", days: "d" };
    const parts = name.split("_");
    const unit = units[parts[parts.length - 1]];
    if (unit) parts.pop();
    return parts.join(" ") + (unit ? ` (${unit})` : "");
  }

  function people(list) {
    return list && list.length ? list.join(", ") : "–";
  }

  function span(start, finish) {
    return start ? `${start} → ${finish}` : "–";
  }

  // -- the key and the API ----------------------------------------------------------------
  class ApiFailure extends Error {
    constructor(status, body) {
      const err = body && body.error;
      super(err && err.message ? err.message : `HTTP ${status}`);
      this.status = status;
      this.code = err ? err.code : null;
    }
  }

  function key() {
    return sessionStorage.getItem(KEY);
  }

  async function call(path, options, token) {
    const opts = options || {};
    const headers = Object.assign(
      { Accept: "application/json", Authorization: `Bearer ${token || key()}` },
      opts.headers || {},
    );
    const response = await fetch(path, {
      method: opts.method || "GET",
      body: opts.body,
      headers,
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch (_) {
        body = null;
      }
      throw new ApiFailure(response.status, body);
    }
    return response;
  }

  async function getJson(path) {
    return (await call(path)).json();
  }

  function refusal(error, what) {
    if (!(error instanceof ApiFailure)) return `Something went wrong: ${error.message}`;
    if (error.status === 404) {
      return `${what} not found: it does not exist, or it belongs to another tenant.`;
    }
    if (error.status === 403) return `Refused: ${error.message}.`;
    if (error.status === 429) return `The server is busy: ${error.message}. Try again shortly.`;
    return `${what}: ${error.message} (HTTP ${error.status}).`;
  }

  // a failed call: a refused key signs out; anything else is shown above the view
  function failed(error, what) {
    if (error instanceof ApiFailure && error.status === 401) {
      sessionStorage.removeItem(KEY);
      showSignIn("Your key was refused (unknown or revoked). Sign in again.");
      return;
    }
    $("view").replaceChildren();
    showMessage(refusal(error, what));
  }

  function showMessage(text) {
    const box = $("message");
    box.textContent = text || "";
    box.hidden = !text;
  }

  function crumbs(...items) {
    const nav = $("crumbs");
    nav.replaceChildren();
    items.forEach((item, i) => {
      if (i) nav.append(h("span", { class: "sep", text: "›" }));
      nav.append(item.href ? h("a", { href: item.href, text: item.label }) : h("span", { text: item.label }));
    });
  }

  // -- sign in / out ----------------------------------------------------------------------
  function showSignIn(error) {
    generation += 1;
    $("signin").hidden = false;
    $("sign-out").hidden = true;
    $("view").replaceChildren();
    $("crumbs").replaceChildren();
    showMessage("");
    const box = $("signin-error");
    box.textContent = error || "";
    box.hidden = !error;
    $("key").focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const input = $("key");
    const token = input.value.trim();
    input.value = "";
    if (!token) return;
    try {
      await call("/v1/portfolios?limit=1", {}, token);
    } catch (error) {
      const text =
        error instanceof ApiFailure && error.status === 401
          ? "This key was refused: it is unknown or revoked."
          : refusal(error, "Sign-in");
      showSignIn(text);
      return;
    }
    sessionStorage.setItem(KEY, token);
    $("signin").hidden = true;
    route();
  }

  function signOut() {
    sessionStorage.removeItem(KEY);
    if (location.hash && location.hash !== "#/") location.hash = "#/";
    showSignIn("");
  }

  // -- views --------------------------------------------------------------------------------
  function table(headers, rows, attrs) {
    return h(
      "table",
      attrs || {},
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { text: t })))),
      h("tbody", {}, rows),
    );
  }

  function termsTable(objective, bound, attrs) {
    const names = Object.keys(objective || bound || {});
    const rows = names.map((n) =>
      h("tr", { "data-term": n }, h("td", { text: term(n) }),
        h("td", { class: "num", text: fmt(objective ? objective[n] : null) }),
        h("td", { class: "num", text: fmt(bound ? bound[n] : null) })),
    );
    if (!rows.length) return h("p", { class: "muted", text: "No objective figures yet." });
    return table(["term", "value", "lower bound"], rows, attrs);
  }

  async function portfoliosView(gen) {
    crumbs({ label: "Portfolios" });
    const page = await getJson("/v1/portfolios?limit=200");
    if (gen !== generation) return;
    const rows = page.items.map((p) =>
      h("tr", { "data-portfolio": p.id },
        h("td", {}, h("a", { href: `#/p/${encodeURIComponent(p.id)}`, text: p.name })),
        h("td", { class: "num", text: p.revision }),
        h("td", { class: "num", text: p.people }),
        h("td", { class: "num", text: p.tasks }),
        h("td", { text: when(p.updated_at) })),
    );
    $("view").replaceChildren(
      h("h1", { text: "Portfolios" }),
      rows.length
        ? table(["name", "revision", "people", "tasks", "updated"], rows, { id: "portfolios" })
        : h("p", { class: "muted", text: "No portfolios yet: store one with POST /v1/portfolios." }),
      h("p", { class: "muted", text: `${page.total} in all.` }),
    );
  }

  async function portfolioView(gen, pid) {
    const [body, plans] = await Promise.all([
      getJson(`/v1/portfolios/${encodeURIComponent(pid)}`),
      getJson(`/v1/portfolios/${encodeURIComponent(pid)}/plans?limit=200`),
    ]);
    if (gen !== generation) return;
    const name = body.name || pid;
    crumbs({ label: "Portfolios", href: "#/" }, { label: name });
    const tasks = (body.projects || []).reduce((n, p) => n + (p.tasks || []).length, 0);

    const limit = h("input", { id: "time-limit", type: "number", min: "1", max: "3600", step: "1", value: "5" });
    const solveButton = h("button", { id: "solve", type: "button", text: "Start a solve" });
    solveButton.addEventListener("click", async () => {
      solveButton.disabled = true;
      try {
        const response = await call(`/v1/portfolios/${encodeURIComponent(pid)}/solve`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ time_limit: Number(limit.value) || 5 }),
        });
        const job = await response.json();
        location.hash = `#/job/${encodeURIComponent(job.job_id)}`;
      } catch (error) {
        solveButton.disabled = false;
        if (error instanceof ApiFailure && error.status === 401) failed(error, "Solve");
        else showMessage(refusal(error, "Solve"));
      }
    });

    const rows = plans.items.map((p) =>
      h("tr", { "data-plan": p.id, "data-version": p.version },
        h("td", {}, h("a", { href: `#/plan/${encodeURIComponent(p.id)}`, text: `v${p.version}` })),
        h("td", { text: p.status + (p.final ? "" : " (running)") }),
        h("td", { text: objectiveLine(p.objective) }),
        h("td", { class: "num", text: pct(p.gap) }),
        h("td", { text: p.solver || "–" }),
        h("td", { text: p.check ? (p.check.valid ? "passed" : `${p.check.violations} violations`) : "–" }),
        h("td", { text: when(p.created_at) })),
    );

    const compare = [];
    if (plans.items.length >= 2) {
      const options = (selected) =>
        plans.items.map((p) => h("option", { value: p.id, selected: p.id === selected, text: `v${p.version}` }));
      const from = h("select", { id: "diff-from" }, options(plans.items[1].id));
      const to = h("select", { id: "diff-to" }, options(plans.items[0].id));
      const go = h("button", { id: "compare", type: "button", text: "Compare" });
      go.addEventListener("click", () => {
        location.hash = `#/diff/${encodeURIComponent(from.value)}/${encodeURIComponent(to.value)}`;
      });
      compare.push(h("h2", { text: "Compare two versions" }),
        h("div", { class: "row" }, h("label", { text: "from " }, from), h("label", { text: "to " }, to), go));
    }

    $("view").replaceChildren(
      h("h1", { id: "portfolio-name", text: name }),
      h("p", { class: "muted" },
        `${(body.people || []).length} people, ${(body.projects || []).length} projects, ${tasks} tasks`,
        body.as_of ? ` · as of ${body.as_of}` : ""),
      h("div", { class: "row" }, h("label", { for: "time-limit", text: "time limit (s) " }), limit, solveButton),
      h("h2", { text: "Plan versions" }),
      rows.length
        ? table(["version", "status", "objective", "gap", "solver", "checker", "made"], rows, { id: "plans" })
        : h("p", { class: "muted", text: "No plan yet: start a solve." }),
      ...compare,
    );
  }

  function objectiveLine(objective) {
    if (!objective) return "–";
    return Object.entries(objective).map(([n, v]) => `${term(n)} ${fmt(v)}`).join(" · ");
  }

  async function jobView(gen, jid) {
    const started = Date.now();
    let crumbed = false;
    const poll = async () => {
      if (gen !== generation) return;
      let job;
      try {
        job = await getJson(`/v1/jobs/${encodeURIComponent(jid)}`);
      } catch (error) {
        if (gen === generation) failed(error, "Job");
        return;
      }
      if (gen !== generation) return;
      if (!crumbed) {
        crumbs({ label: "Portfolios", href: "#/" },
          { label: "portfolio", href: `#/p/${encodeURIComponent(job.portfolio_id)}` },
          { label: `job ${job.id.slice(0, 8)}` });
        crumbed = true;
      }
      renderJob(job);
      if (FINAL.has(job.status)) return;
      if (Date.now() - started > POLL_GIVE_UP_MS) {
        showMessage("Stopped following this job (it ran too long): reload to follow it again.");
        return;
      }
      setTimeout(poll, POLL_MS);
    };
    await poll();
  }

  function renderJob(job) {
    const p = job.progress || {};
    const share = p.elapsed && job.time_limit ? Math.min(1, p.elapsed / job.time_limit) : 0;
    const meter = h("progress", { max: "1", value: FINAL.has(job.status) ? "1" : String(share) });
    const actions = [];
    if (job.plan_id) {
      actions.push(h("a", { id: "open-plan", class: "button", href: `#/plan/${encodeURIComponent(job.plan_id)}`,
        text: FINAL.has(job.status) ? "Open the plan" : "Open the best plan so far" }));
    }
    $("view").replaceChildren(
      h("h1", { text: `Solve job ${job.id.slice(0, 8)}` }),
      h("dl", { class: "facts" },
        h("dt", { text: "status" }), h("dd", { id: "job-status", "data-status": job.status, text: job.status }),
        h("dt", { text: "stage" }), h("dd", { id: "job-stage", text: p.stage || "–" }),
        h("dt", { text: "elapsed" }), h("dd", { text: `${fmt(p.elapsed, 1)} s of ${fmt(job.time_limit, 1)} s` }),
        h("dt", { text: "gap" }), h("dd", { id: "job-gap", text: pct(p.gap) }),
        job.error ? [h("dt", { text: "error" }), h("dd", { class: "error", text: job.error })] : null),
      meter,
      h("h2", { text: "Objective terms and bounds" }),
      termsTable(p.objective, p.lower_bound, { id: "job-terms" }),
      h("div", { class: "row" }, actions),
    );
  }

  async function planView(gen, planId) {
    const plan = await getJson(`/v1/plans/${encodeURIComponent(planId)}`);
    if (gen !== generation) return;
    crumbs({ label: "Portfolios", href: "#/" },
      { label: "portfolio", href: `#/p/${encodeURIComponent(plan.portfolio_id)}` },
      { label: `plan v${plan.version}` });
    const body = plan.plan || {};
    const assignments = (body.assignments || []).map((a) =>
      h("tr", { "data-task": a.task }, h("td", { text: a.task }), h("td", { text: people(a.people) }),
        h("td", { text: a.start }), h("td", { text: a.finish }),
        h("td", { class: "num", text: fmt(a.hours) }), h("td", { class: "num", text: fmt(a.cost) })),
    );
    const unassigned = (body.unassigned || []).map((u) =>
      h("tr", { "data-task": u.task }, h("td", { text: u.task }), h("td", { text: (u.reasons || []).join("; ") })),
    );
    const check = plan.check;
    $("view").replaceChildren(
      h("h1", { id: "plan-title", text: `Plan v${plan.version}` }),
      h("div", { class: "row" },
        h("a", { id: "open-report", class: "button", href: `#/report/${encodeURIComponent(plan.id)}`, text: "Report" })),
      h("dl", { class: "facts" },
        h("dt", { text: "status" }), h("dd", { id: "plan-status", text: plan.status + (plan.final ? "" : " (job still running)") }),
        h("dt", { text: "solver" }), h("dd", { text: plan.solver || "–" }),
        h("dt", { text: "gap" }), h("dd", { text: pct(plan.gap) }),
        h("dt", { text: "checker" }),
        h("dd", { id: "plan-check", text: check ? (check.valid ? "passed" : `${check.violations} violations: ${check.codes.join(", ")}`) : "–" }),
        h("dt", { text: "made" }), h("dd", { text: `${when(plan.created_at)} in ${fmt(plan.solve_seconds)} s` })),
      h("h2", { text: "Objective" }),
      termsTable(plan.objective, plan.lower_bound, { id: "plan-terms" }),
      h("h2", { text: `Assignments (${assignments.length})` }),
      assignments.length
        ? table(["task", "people", "start", "finish", "hours", "cost"], assignments, { id: "assignments" })
        : h("p", { class: "muted", text: "None." }),
      h("h2", { text: `Unassigned (${unassigned.length})` }),
      unassigned.length
        ? table(["task", "why"], unassigned, { id: "unassigned" })
        : h("p", { class: "muted", text: "None: every task is planned." }),
    );
  }

  async function reportView(gen, planId) {
    const plan = await getJson(`/v1/plans/${encodeURIComponent(planId)}`);
    if (gen !== generation) return;
    crumbs({ label: "Portfolios", href: "#/" },
      { label: "portfolio", href: `#/p/${encodeURIComponent(plan.portfolio_id)}` },
      { label: `plan v${plan.version}`, href: `#/plan/${encodeURIComponent(plan.id)}` },
      { label: "report" });
    const html = await (await call(`/v1/plans/${encodeURIComponent(planId)}/report`, { headers: { Accept: "text/html" } })).text();
    if (gen !== generation) return;
    // the report is shown without scripts and in its own (opaque) origin: sandbox="" allows none
    const frame = h("iframe", { id: "report-frame", title: "plan report", sandbox: "" });
    frame.srcdoc = html;
    download = URL.createObjectURL(new Blob([html], { type: "text/html" }));
    const file = download;
    $("view").replaceChildren(
      h("div", { class: "row" },
        h("h1", { text: `Report · plan v${plan.version}` }),
        h("a", { id: "download-report", class: "button", href: file, download: `report-${plan.id}.html`, text: "Download" })),
      frame,
    );
  }

  async function diffView(gen, oldId, newId) {
    const [oldPlan, newPlan, diff] = await Promise.all([
      getJson(`/v1/plans/${encodeURIComponent(oldId)}`),
      getJson(`/v1/plans/${encodeURIComponent(newId)}`),
      getJson(`/v1/plans/${encodeURIComponent(oldId)}/diff/${encodeURIComponent(newId)}`),
    ]);
    if (gen !== generation) return;
    crumbs({ label: "Portfolios", href: "#/" },
      { label: "portfolio", href: `#/p/${encodeURIComponent(newPlan.portfolio_id)}` },
      { label: `v${oldPlan.version} → v${newPlan.version}` });
    const names = Object.keys(newPlan.objective || oldPlan.objective || {});
    const terms = names.map((n) => {
      const a = oldPlan.objective ? oldPlan.objective[n] : null;
      const b = newPlan.objective ? newPlan.objective[n] : null;
      const delta = typeof a === "number" && typeof b === "number" ? b - a : null;
      return h("tr", { "data-term": n }, h("td", { text: term(n) }), h("td", { class: "num", text: fmt(a) }),
        h("td", { class: "num", text: fmt(b) }),
        h("td", { class: "num", text: delta === null ? "–" : (delta > 0 ? "+" : "") + fmt(delta) }));
    });
    // "forced" (the world changed under the task) or "chosen" (by the planner), where the API
    // says which
    const told = diff.changes.some((c) => typeof c.forced === "boolean");
    const rows = diff.changes.map((c) =>
      h("tr", { "data-task": c.task, "data-kind": c.kind },
        h("td", { text: c.task }), h("td", { text: c.kind }),
        h("td", { text: `${people(c.old.people)} · ${span(c.old.start, c.old.finish)}` }),
        h("td", { text: `${people(c.new.people)} · ${span(c.new.start, c.new.finish)}` }),
        told ? h("td", { text: c.forced ? "forced" : "chosen" }) : null,
        h("td", { text: c.reasons.join("; ") })),
    );
    const heads = ["task", "change", "before", "after", ...(told ? ["forced or chosen"] : []), "why"];
    $("view").replaceChildren(
      h("h1", { id: "diff-title", text: `Plan v${oldPlan.version} → v${newPlan.version}` }),
      table(["term", `v${oldPlan.version}`, `v${newPlan.version}`, "change"], terms, { id: "diff-terms" }),
      h("h2", { id: "diff-count", text: `${rows.length} task${rows.length === 1 ? "" : "s"} changed` }),
      rows.length
        ? table(heads, rows, { id: "diff" })
        : h("p", { class: "muted", text: "The two versions assign every task alike." }),
    );
  }

  // -- the router --------------------------------------------------------------------------
  const ROUTES = [
    [/^#?\/?$/, portfoliosView, "Portfolios"],
    [/^#\/p\/([^/]+)$/, portfolioView, "Portfolio"],
    [/^#\/job\/([^/]+)$/, jobView, "Job"],
    [/^#\/plan\/([^/]+)$/, planView, "Plan"],
    [/^#\/report\/([^/]+)$/, reportView, "Plan"],
    [/^#\/diff\/([^/]+)\/([^/]+)$/, diffView, "Plan"],
  ];

  async function route() {
    generation += 1;
    const gen = generation;
    if (download) {
      URL.revokeObjectURL(download);
      download = null;
    }
    showMessage("");
    if (!key()) {
      showSignIn("");
      return;
    }
    $("signin").hidden = true;
    $("sign-out").hidden = false;
    const hash = location.hash || "#/";
    for (const [pattern, view, what] of ROUTES) {
      const match = hash.match(pattern);
      if (!match) continue;
      $("view").replaceChildren(h("p", { class: "muted", text: "Loading…" }));
      try {
        await view(gen, ...match.slice(1).map(decodeURIComponent));
      } catch (error) {
        if (gen === generation) failed(error, what);
      }
      return;
    }
    $("view").replaceChildren();
    showMessage("No such page.");
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", signOut);
    window.addEventListener("hashchange", route);
    route();
  });
})();
