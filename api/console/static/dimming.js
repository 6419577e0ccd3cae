/* The dimming page: profiles, assignments (with "which rule gives this lamp its profile"),
 * calendar exceptions, overrides and the push status. Everyone signed in reads; the
 * energy staff also get the forms (the API refuses a technician's change anyway).
 */
(function () {
  "use strict";

  const { t, h, api, fmt, errorText, showError, fillTable, config } = window.SL;
  const canEdit = Boolean(config.canEdit);
  const TARGET_KINDS = ["town", "group", "street", "circuit", "lighting_class", "lamp"];
  const errorBox = document.getElementById("dimming-error");
  const statusBox = document.getElementById("dimming-status");
  let profiles = [];

  const items = (body) => (Array.isArray(body) ? body : (body && (body.items || body.rows)) || []);
  const profileId = (profile) => profile.id ?? profile.profile_id;
  const profileName = (id) => {
    const found = profiles.find((p) => profileId(p) === id);
    return found ? found.name : `#${id}`;
  };
  const kindLabel = (kind) => t("dimming.target_kind." + kind);
  const targetText = (kind, target) => (kind === "town" ? kindLabel("town") : `${kindLabel(kind)}: ${target}`);

  function say(message) {
    statusBox.textContent = message;
    statusBox.hidden = !message;
    showError(errorBox, "");
  }

  function fail(err) {
    statusBox.hidden = true;
    showError(errorBox, errorText(err));
  }

  /** Send a change; once it is saved, say so and run `reload` to show it; or say why it failed. */
  async function save(path, options, reload) {
    try {
      await api(path, options);
      say(t("dimming.saved"));
      await reload();
    } catch (err) { fail(err); }
  }

  function actionButton(label, onClick, extra) {
    return h("button", { type: "button", class: "btn btn-small", onclick: onClick, ...(extra || {}) }, label);
  }

  /** A row's button that deletes `path` once the user confirms (message `confirmKey`). */
  function removeButton(what, confirmKey, path, reload) {
    return actionButton(t("dimming.remove"), () => {
      if (window.confirm(t(confirmKey))) save(path, { method: "DELETE" }, reload);
    }, { "aria-label": `${t("dimming.remove")} ${what}` });
  }

  // ------------------------------------------------------------------ form choices

  for (const select of document.querySelectorAll("select[data-target-kind]")) {
    select.replaceChildren(...TARGET_KINDS.map((kind) => h("option", { value: kind }, kindLabel(kind))));
    const input = select.closest("form").querySelector('input[name="target"]');
    const sync = () => { input.disabled = select.value === "town"; if (input.disabled) input.value = ""; };
    select.addEventListener("change", sync);
    sync();
  }

  function fillProfileChoices() {
    const live = profiles.filter((p) => !p.retired_at);
    for (const select of document.querySelectorAll("select[data-profile-choice]")) {
      const chosen = select.value;
      select.replaceChildren(...live.map((p) => h("option", { value: profileId(p) }, p.name)));
      if (chosen) select.value = chosen;
    }
  }

  // ------------------------------------------------------------------ profiles

  async function loadProfiles() {
    profiles = items(await api("/api/v1/dimming/profiles", { params: { include_retired: "true" } }));
    const rows = profiles.map((p) => h("tr", { dataset: { profile: p.name } },
      h("th", { scope: "row" }, h("a", { href: `/dimming/profiles/${profileId(p)}` }, p.name),
        p.retired_at ? h("span", { class: "badge badge-retired" }, t("dimming.profile.retired")) : null),
      h("td", { class: "num" }, fmt.number(p.version)),
      h("td", {}, t("profile.twilight." + p.twilight)),
      h("td", { class: "num" }, fmt.number((p.steps || []).length)),
      h("td", {}, fmt.dateTime(p.updated_at), p.updated_by ? ` · ${p.updated_by}` : "")));
    fillTable("profiles-table", "profiles-empty", rows);
    fillProfileChoices();
  }

  const newProfileForm = document.getElementById("new-profile-form");
  if (newProfileForm) {
    newProfileForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = newProfileForm.elements.name.value.trim();
      if (!name) { showError(errorBox, t("dimming.profile.name_missing")); return; }
      try {
        // A sensible start: full light from dusk to dawn, to be edited at once.
        const created = await api("/api/v1/dimming/profiles", {
          method: "POST",
          json: {
            name, description: "", twilight: "sunset",
            steps: [{ anchor: "dusk", offset_min: 0, level: 100 }, { anchor: "dawn", offset_min: 0, level: 0 }],
          },
        });
        location.assign(`/dimming/profiles/${profileId(created)}`);
      } catch (err) { fail(err); }
    });
  }

  // ------------------------------------------------------------------ assignments

  async function loadAssignments() {
    const assignments = items(await api("/api/v1/dimming/assignments"));
    const rows = assignments.map((a) => h("tr", {},
      h("td", {}, targetText(a.target_kind, a.target)),
      h("td", {}, h("a", { href: `/dimming/profiles/${a.profile_id}` }, profileName(a.profile_id))),
      canEdit ? h("td", {}, removeButton(targetText(a.target_kind, a.target), "dimming.assignments.confirm_remove",
        `/api/v1/dimming/assignments/${a.id ?? a.assignment_id}`, loadAssignments)) : null));
    fillTable("assignments-table", "assignments-empty", rows);
  }

  function targetOf(form) {
    const kind = form.elements.target_kind.value;
    return { target_kind: kind, target: kind === "town" ? "" : form.elements.target.value.trim() };
  }

  const assignmentForm = document.getElementById("assignment-form");
  if (assignmentForm) {
    assignmentForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const target = targetOf(assignmentForm);
      if (target.target_kind !== "town" && !target.target) { showError(errorBox, t("dimming.target_missing")); return; }
      await save("/api/v1/dimming/assignments", {
        method: "POST", json: { ...target, profile_id: Number(assignmentForm.elements.profile_id.value) },
      }, loadAssignments);
    });
  }

  // Which rule gives this lamp its profile tonight.
  const lookupForm = document.getElementById("lookup-form");
  const lookupResult = document.getElementById("lookup-result");
  lookupForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const lampId = lookupForm.elements.lamp_id.value.trim();
    if (!lampId) return;
    lookupResult.replaceChildren(h("p", { class: "muted" }, t("common.loading")));
    try {
      const view = await api(`/api/v1/lamps/${encodeURIComponent(lampId)}/dimming`);
      lookupResult.replaceChildren(lampDimming(lampId, view));
    } catch (err) {
      lookupResult.replaceChildren(h("p", { class: "notice notice-error", role: "alert" }, errorText(err)));
    }
  });

  function lampDimming(lampId, view) {
    const rule = view.rule || {};
    const points = view.points || [];
    const push = view.push || view.latest_push || null;
    const facts = h("dl", { class: "facts", id: "lookup-facts" },
      h("dt", {}, t("dimming.lookup.source")), h("dd", { id: "lookup-source" }, t("dimming.source." + (rule.source || "none"))),
      h("dt", {}, t("dimming.profile")),
      h("dd", { id: "lookup-profile" }, rule.profile_id
        ? h("a", { href: `/dimming/profiles/${rule.profile_id}` }, `${rule.profile_name || profileName(rule.profile_id)} · v${rule.profile_version ?? "?"}`)
        : "–"),
      h("dt", {}, t("dimming.lookup.rule")), h("dd", {}, rule.description || "–"),
      h("dt", {}, t("dimming.lookup.push")),
      h("dd", {}, push ? t("dimming.lookup.push_text", {
        version: push.version, state: t("dimming.push.state." + (push.ack_status || push.state || "pending")),
        time: fmt.dateTime(push.pushed_at || push.created_at),
      }) : "–"));
    const list = h("ol", { class: "link-list", id: "lookup-points" }, points.slice(0, 12).map((p) =>
      h("li", {}, t("dimming.lookup.point", { time: fmt.dateTime(p.at), level: p.level }))));
    return h("div", { dataset: { lamp: lampId } },
      h("h3", {}, SL.lampLink(lampId)), facts,
      h("h4", {}, t("dimming.lookup.points")), points.length ? list : h("p", { class: "muted" }, "–"));
  }

  // ------------------------------------------------------------------ calendar

  function whenText(c) {
    if (c.kind === "dates") return `${fmt.day(c.start_date)} – ${fmt.day(c.end_date)}`;
    if (c.kind === "weekdays") return (c.weekdays || []).map((d) => t("dimming.weekday." + d)).join(", ");
    return t("dimming.calendar.yearly_text", { start: c.start_day, end: c.end_day });
  }

  async function loadCalendar() {
    const exceptions = items(await api("/api/v1/dimming/calendar"));
    const rows = exceptions.map((c) => h("tr", {},
      h("th", { scope: "row" }, c.name),
      h("td", {}, whenText(c)),
      h("td", {}, targetText(c.target_kind || "town", c.target || "")),
      h("td", {}, h("a", { href: `/dimming/profiles/${c.profile_id}` }, profileName(c.profile_id))),
      h("td", { class: "num" }, fmt.number(c.priority)),
      canEdit ? h("td", {}, removeButton(c.name, "dimming.calendar.confirm_remove",
        `/api/v1/dimming/calendar/${c.id ?? c.exception_id}`, loadCalendar)) : null));
    fillTable("calendar-table", "calendar-empty", rows);
  }

  const calendarForm = document.getElementById("calendar-form");
  if (calendarForm) {
    const kind = calendarForm.elements.kind;
    const syncKind = () => {
      for (const part of calendarForm.querySelectorAll("[data-kind]")) part.hidden = part.dataset.kind !== kind.value;
    };
    kind.addEventListener("change", syncKind);
    syncKind();
    calendarForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = calendarForm.elements;
      const body = {
        name: f.name.value.trim(), kind: kind.value, profile_id: Number(f.profile_id.value),
        priority: Number(f.priority.value || 0), ...targetOf(calendarForm),
      };
      if (kind.value === "dates") Object.assign(body, { start_date: f.start_date.value, end_date: f.end_date.value });
      if (kind.value === "weekdays") {
        body.weekdays = [...calendarForm.querySelectorAll('input[name="weekdays"]:checked')].map((c) => Number(c.value));
      }
      if (kind.value === "yearly") Object.assign(body, { start_day: f.start_day.value.trim(), end_day: f.end_day.value.trim() });
      await save("/api/v1/dimming/calendar", { method: "POST", json: body }, () => {
        calendarForm.reset();
        syncKind();
        return loadCalendar();
      });
    });
  }

  // ------------------------------------------------------------------ overrides

  function overrideState(o) {
    if (o.state) return o.state;
    const now = Date.now();
    if (o.cancelled_at) return "cancelled";
    if (Date.parse(o.expires_at) <= now) return "expired";
    if (Date.parse(o.starts_at) > now) return "scheduled";
    return "active";
  }

  async function loadOverrides() {
    const overrides = items(await api("/api/v1/dimming/overrides"));
    const rows = overrides.map((o) => {
      const state = overrideState(o);
      return h("tr", {},
        h("td", {}, targetText(o.target_kind, o.target)),
        h("td", { class: "num" }, `${o.level}\u202f%`),
        h("td", {}, fmt.dateTime(o.starts_at)),
        h("td", {}, fmt.dateTime(o.expires_at)),
        h("td", {}, o.reason || "–", o.created_by ? h("span", { class: "muted small" }, ` · ${o.created_by}`) : null),
        h("td", {}, t("dimming.overrides.state." + state)),
        canEdit ? h("td", {}, state === "active" || state === "scheduled" ? actionButton(t("dimming.overrides.cancel"),
          () => save(`/api/v1/dimming/overrides/${o.id ?? o.override_id}/cancel`, { method: "POST" }, loadOverrides))
          : null) : null);
    });
    fillTable("overrides-table", "overrides-empty", rows);
  }

  const overrideForm = document.getElementById("override-form");
  if (overrideForm) {
    overrideForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = overrideForm.elements;
      const target = targetOf(overrideForm);
      if (target.target_kind !== "town" && !target.target) { showError(errorBox, t("dimming.target_missing")); return; }
      const now = new Date();
      const hours = Number(f.hours.value);
      if (!(hours > 0)) { showError(errorBox, t("dimming.overrides.hours_missing")); return; }
      await save("/api/v1/dimming/overrides", {
        method: "POST",
        json: {
          ...target, level: Number(f.level.value), reason: f.reason.value.trim(),
          starts_at: now.toISOString(), expires_at: new Date(now.getTime() + hours * 3600 * 1000).toISOString(),
        },
      }, loadOverrides);
    });
  }

  // ------------------------------------------------------------------ push status

  const pushState = document.getElementById("push-state");

  async function loadPushStatus() {
    const status = await api("/api/v1/dimming/push-status", { params: { state: pushState.value } });
    const counts = status.counts || {};
    document.getElementById("push-counts").replaceChildren(...["applied", "pending", "rejected", "stale"].map((state) =>
      h("div", { class: "kpi" + (state === "rejected" && counts[state] ? " kpi-alert" : ""), dataset: { state } },
        h("span", { class: "kpi-label" }, t("dimming.push.state." + state)),
        h("span", { class: "kpi-value" }, fmt.number(counts[state] || 0)))));
    const rows = items(status).map((row) => h("tr", {},
      h("td", {}, SL.lampLink(row.lamp_id)),
      h("td", {}, t("dimming.push.state." + row.state)),
      h("td", { class: "num" }, row.version ?? "–"),
      h("td", {}, fmt.dateTime(row.pushed_at)),
      h("td", {}, row.ack_reason || row.reason || "")));
    fillTable("push-table", "push-empty", rows);
  }

  pushState.addEventListener("change", () => loadPushStatus().catch(fail));
  const pushNow = document.getElementById("push-now");
  if (pushNow) {
    pushNow.addEventListener("click", async () => {
      pushNow.disabled = true;
      try {
        await api("/api/v1/dimming/push", { method: "POST" });
        say(t("dimming.push.started"));
        await loadPushStatus();
      } catch (err) { fail(err); } finally { pushNow.disabled = false; }
    });
  }

  // ------------------------------------------------------------------ start

  async function start() {
    try {
      await loadProfiles();
      await Promise.all([loadAssignments(), loadCalendar(), loadOverrides()]);
    } catch (err) { fail(err); }
    SL.refreshEvery(config.refreshSeconds || 60, loadPushStatus);
  }

  start();
})();
