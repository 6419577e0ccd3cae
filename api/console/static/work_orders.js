/* Work orders: the list (not closed by default), and for the chosen one a form to schedule it and keep
 * notes, and one to close it with what was done. The chosen work order is kept in the address (?id=N). */
(function () {
  "use strict";
  const SL = window.SL;
  const { t, h, api, fmt, reasonText, fact, eventLabel } = SL;
  const PAGE = 100;
  const STATUS_CHOICES = { active: ["open", "scheduled"], open: ["open"], scheduled: ["scheduled"], done: ["done"], all: [] };

  const errorBox = document.getElementById("orders-error");
  const filters = document.getElementById("order-filters");
  const panel = document.getElementById("order-panel");
  const panelTitle = document.getElementById("order-title");
  const panelStatus = document.getElementById("order-status");
  const scheduleForm = document.getElementById("schedule-form");
  const closeForm = document.getElementById("close-form");
  let current = null; // the work order in the panel

  function statusBadge(status) {
    return h("span", { class: `badge badge-wo-${status}`, dataset: { status } }, t("wo_status." + status));
  }

  function why(order) {
    if (order.source === "prediction") {
      return order.reasons.length ? reasonText(order.reasons[0]) : t("wo_source.prediction");
    }
    if (order.source === "fault") return `${eventLabel(order.fault_event_type)}, ${fmt.dateTime(order.fault_event_ts)}`;
    return order.notes.split("\n")[0] || t("wo_source.manual");
  }

  // ------------------------------------------------------------------ the list

  function query() {
    const params = {};
    const street = filters.elements.street.value.trim();
    const lamp = filters.elements.lamp_id.value.trim();
    if (street) params.street = street;
    if (lamp) params.lamp_id = lamp;
    const statuses = STATUS_CHOICES[filters.elements.status.value] || [];
    const search = new URLSearchParams();
    for (const status of statuses) search.append("status", status);
    return { params, statusQuery: search.toString() };
  }

  function row(order) {
    const open = h("button", { type: "button", class: "btn btn-small", "aria-controls": "order-panel",
      "aria-label": t("work_orders.select", { number: order.id }) }, t("work_order.number", { number: order.id }));
    open.addEventListener("click", () => select(order.id, true));
    return h("tr", { dataset: { id: String(order.id), lampId: order.lamp_id },
      "aria-selected": current && current.id === order.id ? "true" : null },
      h("th", { scope: "row" }, open),
      h("td", {}, SL.lampLink(order.lamp_id), h("span", { class: "link-sub" },
        [order.lamp_name !== order.lamp_id ? order.lamp_name : "", order.street].filter(Boolean).join(" · "))),
      h("td", {}, h("span", { class: "muted small" }, t("wo_source." + order.source)), h("br"), why(order)),
      h("td", {}, statusBadge(order.status)),
      h("td", {}, order.status === "done" ? fmt.date(order.closed_at) : fmt.day(order.scheduled_for)));
  }

  const orders = SL.pagedTable({
    name: "orders",
    countKey: "work_orders.count",
    row,
    errorBox,
    fetchPage(offset) {
      const { params, statusQuery } = query();
      const path = "/api/v1/work-orders" + (statusQuery ? "?" + statusQuery : "");
      return api(path, { params: { ...params, limit: PAGE, offset } });
    },
  });
  const reload = orders.reload;

  // ------------------------------------------------------------------ one work order

  function show(order) {
    current = order;
    panel.hidden = false;
    panel.dataset.id = String(order.id);
    panel.dataset.status = order.status;
    panelTitle.textContent = t("work_orders.panel_title", { number: order.id, lamp: order.lamp_name || order.lamp_id });
    const closed = order.status === "done" || order.status === "cancelled";
    document.getElementById("order-facts").replaceChildren(
      ...fact(t("work_orders.field.lamp"), SL.lampLink(order.lamp_id)),
      ...fact(t("work_orders.field.street"), order.street),
      ...fact(t("work_orders.field.address"), order.address),
      ...fact(t("common.state"), SL.stateBadge(order.lamp_state)),
      ...fact(t("work_orders.col.status"), statusBadge(order.status)),
      ...fact(t("work_orders.field.source"), `${t("wo_source." + order.source)}: ${why(order)}`),
      ...fact(t("work_orders.field.risk"), order.latest_probability == null ? null
        : `${fmt.number(order.latest_probability * 100, 0)}\u202f%`),
      ...fact(t("work_orders.field.created"), `${fmt.dateTime(order.created_at)} · ${order.created_by}`),
      ...(closed ? [
        ...fact(t("work_orders.field.closed"), `${fmt.dateTime(order.closed_at)} · ${order.closed_by || ""}`),
        ...fact(t("work_orders.field.outcome"), order.outcome ? t("outcome." + order.outcome) : null),
        ...fact(t("work_orders.field.notes"), order.notes),
      ] : []),
    );
    document.getElementById("order-reasons").replaceChildren(
      ...order.reasons.map((r) => h("li", { class: "reason" }, reasonText(r))));
    scheduleForm.hidden = closed;
    closeForm.hidden = closed;
    if (!closed) {
      scheduleForm.elements.scheduled_for.value = order.scheduled_for || "";
      scheduleForm.elements.notes.value = order.notes;
      closeForm.reset();
      closeForm.elements.failure_found.disabled = false;
    }
    for (const tr of orders.body.querySelectorAll("tr")) {
      if (tr.dataset.id === String(order.id)) tr.setAttribute("aria-selected", "true");
      else tr.removeAttribute("aria-selected");
    }
  }

  async function select(id, focus) {
    try {
      const order = await api("/api/v1/work-orders/" + encodeURIComponent(id));
      panelStatus.textContent = "";
      panelStatus.classList.remove("record-error");
      show(order);
      const url = new URL(location.href);
      url.searchParams.set("id", String(order.id));
      history.replaceState(null, "", url);
      if (focus) panelTitle.focus();
    } catch (err) {
      SL.showError(errorBox, SL.errorText(err));
    }
  }

  function say(message, isError) {
    panelStatus.textContent = message;
    panelStatus.classList.toggle("record-error", Boolean(isError));
  }

  /** Send a change of the work order in the panel, show it as it now is, then `after(order)`; the list follows. */
  async function send(path, options, button, after) {
    button.disabled = true;
    try {
      const order = await api(path, options);
      show(order);
      after(order);
      await reload().catch(() => {});
    } catch (err) {
      say(SL.errorText(err), true);
    } finally {
      button.disabled = false;
    }
  }

  function change(json, button) {
    send("/api/v1/work-orders/" + current.id, { method: "PATCH", json }, button, () => say(t("work_orders.schedule.saved")));
  }

  scheduleForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const json = { notes: scheduleForm.elements.notes.value };
    const chosen = scheduleForm.elements.scheduled_for.value;
    if (chosen) json.scheduled_for = chosen;
    change(json, document.getElementById("schedule-submit"));
  });
  document.getElementById("unschedule").addEventListener("click", (event) => {
    change({ status: "open" }, event.currentTarget);
  });

  closeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const outcome = closeForm.querySelector('input[name="outcome"]:checked');
    if (!outcome) {
      say(t("work_orders.close.choose"), true);
      closeForm.querySelector('input[name="outcome"]').focus();
      return;
    }
    const json = { outcome: outcome.value, failure_found: closeForm.elements.failure_found.checked,
      notes: closeForm.elements.notes.value };
    send(`/api/v1/work-orders/${current.id}/close`, { method: "POST", json }, document.getElementById("close-submit"),
      (order) => {
        say(t("work_orders.close.done", { outcome: t("outcome." + order.outcome) }));
        panelTitle.focus();
      });
  });

  // A false alarm or no fault found cannot come with a failure found: say so by disabling the box.
  closeForm.addEventListener("change", () => {
    const outcome = closeForm.querySelector('input[name="outcome"]:checked');
    const box = closeForm.elements.failure_found;
    box.disabled = Boolean(outcome) && !["repaired", "replaced"].includes(outcome.value);
    if (box.disabled) box.checked = false;
  });

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    reload().catch(() => {});
  });

  const initial = new URLSearchParams(location.search).get("id");
  if (initial && /^\d+$/.test(initial)) select(initial, false);
  SL.autoRefresh(reload);
})();
