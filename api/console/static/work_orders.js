/* Work orders: the list (not closed by default), and for the chosen one a form to schedule it and keep
 * notes, and one to close it with what was done. The chosen work order is kept in the address (?id=N). */
(function () {
  "use strict";
  const SL = window.SL;
  const { config, t, h, api, fmt } = SL;
  const PAGE = 100;
  const STATUS_CHOICES = { active: ["open", "scheduled"], open: ["open"], scheduled: ["scheduled"], done: ["done"], all: [] };

  const errorBox = document.getElementById("orders-error");
  const filters = document.getElementById("order-filters");
  const table = document.getElementById("orders-table");
  const body = table.querySelector("tbody");
  const countHeading = document.getElementById("orders-count");
  const empty = document.getElementById("orders-empty");
  const more = document.getElementById("orders-more");
  const panel = document.getElementById("order-panel");
  const panelTitle = document.getElementById("order-title");
  const panelStatus = document.getElementById("order-status");
  const scheduleForm = document.getElementById("schedule-form");
  const closeForm = document.getElementById("close-form");
  let shown = 0;
  let current = null; // the work order in the panel

  const reasonText = (r) => (config.lang === "fr" && r.text_fr ? r.text_fr : r.text);
  const day = (value) => (value ? fmt.date(value + "T12:00:00Z") : "–");

  function statusBadge(status) {
    return h("span", { class: `badge badge-wo-${status}`, dataset: { status } }, t("wo_status." + status));
  }

  function why(order) {
    if (order.source === "prediction") {
      return order.reasons.length ? reasonText(order.reasons[0]) : t("wo_source.prediction");
    }
    if (order.source === "fault") {
      const key = "event." + order.fault_event_type;
      const label = t(key);
      return `${label === key ? order.fault_event_type : label}, ${fmt.dateTime(order.fault_event_ts)}`;
    }
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
      h("td", {}, order.status === "done" ? fmt.date(order.closed_at) : day(order.scheduled_for)));
  }

  async function load(offset) {
    const { params, statusQuery } = query();
    const path = "/api/v1/work-orders" + (statusQuery ? "?" + statusQuery : "");
    const page = await api(path, { params: { ...params, limit: PAGE, offset } });
    SL.showError(errorBox, "");
    if (offset === 0) body.replaceChildren();
    body.append(...page.items.map(row));
    shown = offset + page.items.length;
    countHeading.textContent = t("work_orders.count", { count: fmt.number(page.total) });
    table.dataset.total = String(page.total);
    empty.hidden = page.total !== 0;
    table.hidden = page.total === 0;
    more.hidden = shown >= page.total;
  }

  async function reload() {
    try {
      await load(0);
    } catch (err) {
      SL.showError(errorBox, SL.errorText(err));
      throw err;
    }
  }

  // ------------------------------------------------------------------ one work order

  function fact(term, value) {
    return [h("dt", {}, term), h("dd", {}, value === null || value === undefined || value === "" ? "–" : value)];
  }

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
    for (const tr of body.querySelectorAll("tr")) {
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

  async function change(json, button) {
    button.disabled = true;
    try {
      const order = await api("/api/v1/work-orders/" + current.id, { method: "PATCH", json });
      show(order);
      say(t("work_orders.schedule.saved"));
      await reload().catch(() => {});
    } catch (err) {
      say(SL.errorText(err), true);
    } finally {
      button.disabled = false;
    }
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

  closeForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const outcome = closeForm.querySelector('input[name="outcome"]:checked');
    if (!outcome) {
      say(t("work_orders.close.choose"), true);
      closeForm.querySelector('input[name="outcome"]').focus();
      return;
    }
    const submit = document.getElementById("close-submit");
    submit.disabled = true;
    try {
      const order = await api(`/api/v1/work-orders/${current.id}/close`, {
        method: "POST",
        json: { outcome: outcome.value, failure_found: closeForm.elements.failure_found.checked,
          notes: closeForm.elements.notes.value },
      });
      show(order);
      say(t("work_orders.close.done", { outcome: t("outcome." + order.outcome) }));
      panelTitle.focus();
      await reload().catch(() => {});
    } catch (err) {
      say(SL.errorText(err), true);
    } finally {
      submit.disabled = false;
    }
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
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      await load(shown);
    } catch (err) {
      SL.showError(errorBox, SL.errorText(err));
    } finally {
      more.disabled = false;
    }
  });

  const initial = new URLSearchParams(location.search).get("id");
  if (initial && /^\d+$/.test(initial)) select(initial, false);
  const refreshNow = SL.refreshEvery(config.refreshSeconds || 60, reload, document.getElementById("refresh-status"));
  document.getElementById("refresh-now").addEventListener("click", () => refreshNow());
})();
