/* Predicted failures: the circuits at risk of a supply loss (the daily round's circuit stops), then the
 * lamps most at risk on a map and in a ranked list, with their reasons in the user's language, a button to
 * make a work order, and charts of the signals behind a lamp's reasons.
 *
 * The list and the map show the same lamps: the highest risks matching the filters, up to MAX_LOADED.
 * The circuits do not follow the filters; each has a link that filters the lamps by it.
 */
(function () {
  "use strict";
  const SL = window.SL;
  const { config, t, h, api, fmt, reasonText } = SL;

  const PAGE_SIZE = 1000; // the API's largest page
  const MAX_LOADED = PAGE_SIZE; // the 1,000 highest risks: enough for any crew; the count says when there are more
  const LIST_STEP = 50;
  const SVG_LIMIT = 20000;
  const RISK_LEVELS = [[0.5, "high"], [0.25, "elevated"], [0.1, "moderate"], [0, "low"]];
  const RISK_COLOURS = { high: "#c62828", elevated: "#e67700", moderate: "#b08800", low: "#2e7d32" };
  // Reasons' signals that are telemetry fields, and how to chart them (as on the lamp page).
  const METRICS = {
    ...SL.METRICS,
    switch_cycles: { label: "signal.switch_cycles", digits: 0, colour: "#374151" },
    burning_hours: { label: "signal.burning_hours", digits: 0, colour: "#374151" },
  };
  const SIGNAL_DAYS = 30;
  const STREETS_SHOWN = 3; // a circuit's main streets; the others are counted
  const tickDay = new Intl.DateTimeFormat(fmt.locale, { timeZone: fmt.zone, day: "numeric", month: "short" });

  const errorBox = document.getElementById("predictions-error");
  const statusBox = document.getElementById("predictions-status");
  const form = document.getElementById("prediction-filters");
  const mapElement = document.getElementById("map");
  const mapCount = document.getElementById("map-count");
  const mapNote = document.getElementById("map-note");
  const circuitsIntro = document.getElementById("circuits-intro");
  const circuitsTableWrap = document.getElementById("circuits-table-wrap");
  const circuitsBody = document.querySelector("#circuit-warnings tbody");
  const circuitsEmpty = document.getElementById("circuits-empty");
  const circuitsCapped = document.getElementById("circuits-capped");

  let items = [];
  let total = 0;
  let fromTop = true; // the next load lists the first step only: at first, and after a change of filters
  let selected = null;
  let map = null;
  let layer = null;
  let renderer = null;
  let fitNext = true; // fit the map to the lamps on the first load and after a change of filters
  const plots = [];

  // ------------------------------------------------------------------ formats

  const riskLevel = (p) => RISK_LEVELS.find(([floor]) => p >= floor)[1];
  const percent = (p) => `${fmt.number(p * 100, 0)}\u202f%`;

  function riskBadge(p) {
    return h("span", { class: `risk risk-${riskLevel(p)}`, dataset: { risk: String(p) } }, percent(p));
  }

  function workOrderLink(order) {
    return h("a", { href: "/work-orders?id=" + order.id, class: "wo-link" },
      t("work_order.link", { number: order.id, status: t("wo_status." + order.status).toLowerCase() }),
      order.scheduled_for ? ` (${fmt.day(order.scheduled_for)})` : "");
  }

  // ------------------------------------------------------------------ filters (kept in the address)

  const FILTERS = ["group_name", "circuit", "street", "min_probability"];

  function filtersFromAddress() {
    const query = new URLSearchParams(location.search);
    for (const name of FILTERS) {
      const value = query.get(name);
      if (value !== null && form.elements[name]) form.elements[name].value = value;
    }
  }

  function currentFilters() {
    const filters = {};
    for (const name of FILTERS) {
      const value = form.elements[name].value.trim();
      if (value) filters[name] = value;
    }
    return filters;
  }

  function keepInAddress(filters) {
    const url = new URL(location.href);
    for (const name of FILTERS) {
      if (filters[name]) url.searchParams.set(name, filters[name]);
      else url.searchParams.delete(name);
    }
    history.replaceState(null, "", url);
  }

  function fillOptions(id, values) {
    const list = document.getElementById(id);
    const sorted = [...new Set(values.filter(Boolean))].sort((a, b) => a.localeCompare(b, fmt.locale));
    list.replaceChildren(...sorted.map((value) => h("option", { value })));
  }

  // ------------------------------------------------------------------ loading

  async function load() {
    const filters = currentFilters();
    const loaded = [];
    let first = null;
    for (let offset = 0; offset < MAX_LOADED; offset += PAGE_SIZE) {
      const page = await api("/api/v1/predictions", { params: { ...filters, limit: PAGE_SIZE, offset } });
      first = first || page;
      loaded.push(...page.items);
      if (loaded.length >= page.total || page.items.length < PAGE_SIZE) break;
    }
    SL.showError(errorBox, "");
    items = loaded;
    total = first.total;
    const scored = document.getElementById("predictions-scored");
    scored.textContent = first.latest_scored_at
      ? t("predictions.scored_at", { when: fmt.dateTime(first.latest_scored_at),
        days: items.length ? items[0].horizon_days : "–" })
      : t("predictions.never_scored");
    if (!Object.keys(filters).length) {
      fillOptions("group-options", items.map((item) => item.group_name));
      fillOptions("circuit-options", items.map((item) => item.circuit));
      fillOptions("street-options", items.map((item) => item.street));
    }
    renderList(Math.max(fromTop ? 0 : ranking.shown, LIST_STEP));
    fromTop = false;
    drawMap();
  }

  async function reload() {
    try {
      await Promise.all([load(), loadCircuits()]);
    } catch (err) {
      SL.showError(errorBox, SL.errorText(err));
      throw err;
    }
  }

  // ------------------------------------------------------------------ the circuits' supply warnings

  const circuitThreshold = () => config.circuitMinProbability;

  async function loadCircuits() {
    const page = await api("/api/v1/predictions/circuits",
      { params: { min_probability: circuitThreshold(), limit: PAGE_SIZE } });
    renderCircuits(page);
  }

  function streetsText(streets) {
    if (!streets.length) return "–";
    const shown = streets.slice(0, STREETS_SHOWN).join(", ");
    const others = streets.length - STREETS_SHOWN;
    return others > 0 ? `${shown} ${t("circuits.more_streets", { count: fmt.number(others) })}` : shown;
  }

  function circuitRow(item) {
    const link = h("a", { href: "/predictions?" + new URLSearchParams({ circuit: item.circuit }).toString(),
      class: "btn btn-small show-circuit-lamps", "aria-label": t("circuits.show_lamps_of", { circuit: item.circuit }),
      dataset: { circuit: item.circuit } }, t("circuits.show_lamps"));
    link.addEventListener("click", (event) => {
      event.preventDefault();
      showCircuitLamps(item.circuit);
    });
    return h("tr", { dataset: { circuit: item.circuit } },
      h("th", { scope: "row" }, h("span", { class: "circuit-name" }, item.circuit), h("div", { class: "row-actions" }, link)),
      h("td", { class: "num" }, riskBadge(item.probability)),
      h("td", { class: "num" }, fmt.number(item.lamps)),
      h("td", {}, streetsText(item.streets)),
      h("td", { class: "circuit-reason" }, item.reasons.length ? reasonText(item.reasons[0]) : "–"));
  }

  function renderCircuits(page) {
    const percentText = fmt.number(circuitThreshold() * 100, 1);
    circuitsIntro.textContent = t("circuits.intro", { percent: percentText });
    circuitsBody.replaceChildren(...page.items.map(circuitRow));
    circuitsTableWrap.hidden = page.total === 0;
    circuitsEmpty.textContent = t("circuits.none", { percent: percentText });
    circuitsEmpty.hidden = page.total !== 0;
    circuitsCapped.textContent = t("circuits.capped", { shown: fmt.number(page.items.length), count: fmt.number(page.total) });
    circuitsCapped.hidden = page.total <= page.items.length;
    document.getElementById("circuits").dataset.total = String(page.total);
  }

  /** The lamp list and the map narrowed to one circuit's lamps (the other filters cleared), focus on the list. */
  function showCircuitLamps(circuit) {
    for (const name of FILTERS) form.elements[name].value = "";
    form.elements.circuit.value = circuit;
    keepInAddress(currentFilters());
    fromTop = true;
    fitNext = true;
    reload().then(() => ranking.countHeading.focus(), () => {});
  }

  // ------------------------------------------------------------------ the ranked list

  function workOrderCell(item) {
    if (item.work_order) return workOrderLink(item.work_order);
    const button = h("button", { type: "button", class: "btn btn-small btn-primary create-order",
      dataset: { lampId: item.lamp_id } }, t("predictions.create"));
    button.addEventListener("click", () => createWorkOrder(item, button));
    return button;
  }

  function row(item, index) {
    const name = item.name && item.name !== item.lamp_id ? item.name : "";
    const signalsButton = h("button", { type: "button", class: "btn btn-small show-signals",
      "aria-controls": "signals", dataset: { lampId: item.lamp_id } }, t("predictions.show_signals"));
    signalsButton.addEventListener("click", () => showSignals(item));
    return h("tr", { dataset: { lampId: item.lamp_id }, "aria-selected": selected === item.lamp_id ? "true" : null },
      h("td", { class: "num" }, fmt.number(index + 1)),
      h("th", { scope: "row", class: "lamp-cell" },
        SL.lampLink(item.lamp_id),
        h("span", { class: "link-sub" }, [name, item.street].filter(Boolean).join(" · ")),
        h("div", { class: "row-actions" }, signalsButton)),
      h("td", { class: "num" }, riskBadge(item.probability)),
      h("td", {}, item.reasons.length
        ? h("ul", { class: "reason-list" }, ...item.reasons.slice(0, 3).map((r) => h("li", { class: "reason" }, reasonText(r))))
        : "–"),
      h("td", {}, SL.stateBadge(item.state)),
      h("td", { class: "work-order-cell" }, workOrderCell(item)));
  }

  // The lamps are all loaded at once (up to MAX_LOADED): a page of the list is a step further down them.
  const listPage = (offset, count) => ({ items: items.slice(offset, offset + count), total, available: items.length });
  const ranking = SL.pagedTable({
    name: "ranking",
    tableId: "ranking",
    countKey: "predictions.count",
    row,
    fetchPage: async (offset) => listPage(offset, LIST_STEP),
  });

  /** The first `count` lamps of the list. */
  function renderList(count) {
    ranking.render(listPage(0, count), 0);
  }

  async function createWorkOrder(item, button) {
    button.disabled = true;
    button.textContent = t("predictions.creating");
    try {
      const order = await api("/api/v1/work-orders", { method: "POST", json: { lamp_id: item.lamp_id, source: "prediction" } });
      item.work_order = { id: order.id, status: order.status, scheduled_for: order.scheduled_for, source: order.source };
      statusBox.textContent = t("predictions.created", { number: order.id, lamp: item.name || item.lamp_id });
      statusBox.hidden = false;
    } catch (err) {
      // Someone made one meanwhile: show it rather than the error.
      if (err instanceof SL.ApiError && err.status === 409 && err.body && err.body.work_order_id) {
        item.work_order = { id: err.body.work_order_id, status: "open", scheduled_for: null, source: "prediction" };
        await reload().catch(() => {});
      } else {
        SL.showError(errorBox, SL.errorText(err));
        button.disabled = false;
        button.textContent = t("predictions.create");
        return;
      }
    }
    const cell = button.closest("td");
    if (cell) cell.replaceChildren(workOrderLink(item.work_order));
    const link = cell && cell.querySelector("a");
    if (link) link.focus();
  }

  // ------------------------------------------------------------------ the map

  function popup(item) {
    const button = h("button", { type: "button", class: "btn btn-small btn-primary" }, t("predictions.show_signals"));
    button.addEventListener("click", () => { map.closePopup(); showSignals(item); });
    return h("div", { class: "lamp-popup" },
      h("p", { class: "lamp-popup-title" }, h("strong", {}, item.name || item.lamp_id)),
      h("p", { class: "muted" }, item.lamp_id, item.street ? " · " + item.street : ""),
      h("p", {}, riskBadge(item.probability), " ", item.reasons.length ? reasonText(item.reasons[0]) : ""),
      h("p", { class: "row-actions" }, button,
        h("a", { class: "btn btn-small", href: "/lamps/" + encodeURIComponent(item.lamp_id) }, t("predictions.open_lamp"))));
  }

  function drawMap() {
    if (!map) return;
    if (layer) layer.remove();
    if (!renderer) renderer = items.length > SVG_LIMIT ? L.canvas({ padding: 0.5 }) : L.svg({ padding: 0.5 });
    layer = L.layerGroup().addTo(map);
    const bounds = [];
    let withoutPosition = 0;
    // Lowest risks first, so that the highest are drawn on top.
    for (const item of [...items].reverse()) {
      if (typeof item.lat !== "number" || typeof item.lon !== "number") {
        withoutPosition += 1;
        continue;
      }
      const level = riskLevel(item.probability);
      const marker = L.circleMarker([item.lat, item.lon], {
        renderer, radius: level === "low" ? 4 : 7, color: "#ffffff", weight: 1, opacity: 1,
        fillColor: RISK_COLOURS[level], fillOpacity: 0.95, bubblingMouseEvents: false,
      });
      marker.bindPopup(() => popup(item), { maxWidth: 300 });
      marker.addTo(layer);
      const element = marker.getElement && marker.getElement();
      if (element) {
        element.classList.add("lamp-marker");
        element.setAttribute("data-lamp-id", item.lamp_id);
        element.setAttribute("data-risk", level);
      }
      bounds.push([item.lat, item.lon]);
    }
    if (bounds.length && fitNext) {
      map.fitBounds(bounds, { padding: [24, 24], maxZoom: 18 });
      fitNext = false;
    }
    mapElement.dataset.drawn = String(bounds.length);
    mapCount.textContent = t("predictions.map.count", { count: fmt.number(bounds.length) });
    const notes = [];
    if (total > items.length) notes.push(t("predictions.map.capped", { shown: fmt.number(items.length), count: fmt.number(total) }));
    if (withoutPosition) notes.push(t("predictions.map.without_position", { count: fmt.number(withoutPosition) }));
    mapNote.textContent = notes.length ? notes.join(" ") : t("predictions.map.note");
  }

  // ------------------------------------------------------------------ the signals behind a lamp's reasons

  const signalsTitle = document.getElementById("signals-title");
  const signalsIntro = document.getElementById("signals-intro");
  const signalsReasons = document.getElementById("signals-reasons");
  const signalsStatus = document.getElementById("signals-status");
  const signalCharts = document.getElementById("signal-charts");
  let signalsToken = 0;

  function chartFigure(key, caption) {
    return h("figure", { class: "chart", dataset: { field: key }, id: "signal-" + key },
      h("figcaption", {}, caption),
      h("div", { class: "chart-plot", role: "img", "aria-label": t("predictions.signals.chart_label", { metric: caption }) }),
      h("p", { class: "chart-summary small muted" }));
  }

  function drawLine(figure, xs, ys, spec, range) {
    const holder = figure.querySelector(".chart-plot");
    const count = ys.filter((v) => v !== null && v !== undefined).length;
    figure.dataset.points = String(count);
    if (!count || !window.uPlot) {
      holder.append(h("p", { class: "chart-empty muted" }, window.uPlot ? t("lamp.chart_empty") : t("error.vendor_missing")));
      return;
    }
    const values = ys.filter((v) => v !== null && v !== undefined);
    figure.querySelector(".chart-summary").textContent = t("lamp.chart_summary", {
      min: fmt.number(Math.min(...values), spec.digits),
      avg: fmt.number(values.reduce((a, b) => a + b, 0) / values.length, spec.digits),
      max: fmt.number(Math.max(...values), spec.digits),
    });
    const plot = new uPlot({
      width: Math.max(260, holder.clientWidth || 480),
      height: 160,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), fmt.zone),
      scales: { x: { time: true, range: () => range }, y: spec.range ? { range: spec.range } : {} },
      series: [
        { label: t("lamp.chart_time"), value: (u, ts) => (ts == null ? "–" : fmt.dateTime(ts * 1000)) },
        { label: t("lamp.chart_avg"), stroke: spec.colour, width: 2, points: { show: spec.points || false, size: 5 },
          value: (u, v) => (v == null ? "–" : fmt.number(v, spec.digits)) },
      ],
      axes: [
        { stroke: "#4b5563", grid: { stroke: "#e5e7eb" }, size: 40,
          values: (u, splits) => splits.map((ts) => (ts == null ? "" : tickDay.format(new Date(ts * 1000)))) },
        { stroke: "#4b5563", grid: { stroke: "#e5e7eb" }, size: 52,
          values: (u, splits) => splits.map((v) => fmt.number(v, spec.digits > 1 ? 2 : spec.digits)) },
      ],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
    }, [xs, ys], holder);
    plots.push(plot);
  }

  async function showSignals(item) {
    const token = ++signalsToken;
    selected = item.lamp_id;
    for (const tr of ranking.body.querySelectorAll("tr")) {
      if (tr.dataset.lampId === item.lamp_id) tr.setAttribute("aria-selected", "true");
      else tr.removeAttribute("aria-selected");
    }
    while (plots.length) plots.pop().destroy();
    signalCharts.replaceChildren();
    signalsTitle.textContent = t("predictions.signals.of", { lamp: item.name || item.lamp_id });
    signalsIntro.textContent = [item.lamp_id, item.street].filter(Boolean).join(" · ");
    signalsReasons.replaceChildren(...item.reasons.map((r) => h("li", { class: "reason" }, reasonText(r))));
    signalsStatus.textContent = t("common.loading");
    document.getElementById("signals").dataset.lampId = item.lamp_id;
    signalsTitle.focus();

    const named = [...new Set(item.reasons.map((r) => r.signal))];
    let fields = named.filter((signal) => METRICS[signal]);
    const others = named.filter((signal) => !METRICS[signal]);
    const notes = [];
    if (!fields.length) {
      fields = ["power_w"];
      notes.push(t("predictions.signals.none"));
    }
    if (others.length) {
      notes.push(t("predictions.signals.not_charted", { signals: others.map((s) => t("signal." + s)).join(", ") }));
    }
    const to = Date.now();
    const from = to - SIGNAL_DAYS * 86400 * 1000;
    const range = [from / 1000, to / 1000];
    const lampPath = "/api/v1/lamps/" + encodeURIComponent(item.lamp_id);
    try {
      const [scores, telemetry] = await Promise.all([
        api(lampPath + "/predictions", { params: { since: new Date(from).toISOString() } }),
        api(lampPath + "/telemetry", { params: { from: new Date(from).toISOString(), to: new Date(to).toISOString(),
          bucket: "1h", fields: fields.join(",") } }),
      ]);
      if (token !== signalsToken) return;
      const riskFigure = chartFigure("risk", t("predictions.signals.risk"));
      signalCharts.append(riskFigure);
      drawLine(riskFigure, scores.history.map((p) => Date.parse(p.scored_at) / 1000),
        scores.history.map((p) => Math.round(p.probability * 1000) / 10),
        { digits: 0, colour: "#c62828", range: [0, 100], points: true }, range);
      for (const field of fields) {
        const spec = METRICS[field];
        const figure = chartFigure(field, t(spec.label));
        signalCharts.append(figure);
        const buckets = telemetry.buckets || [];
        drawLine(figure, buckets.map((b) => Date.parse(b.start) / 1000),
          buckets.map((b) => (b.values[field] ? b.values[field].avg : null)), spec, range);
      }
      signalsStatus.textContent = [t("predictions.signals.range"), ...notes].join(" ");
    } catch (err) {
      if (token === signalsToken) signalsStatus.textContent = SL.errorText(err);
    }
  }

  // ------------------------------------------------------------------ wiring

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    keepInAddress(currentFilters());
    fromTop = true;
    fitNext = true;
    reload().catch(() => {});
  });
  form.addEventListener("reset", () => {
    setTimeout(() => {
      keepInAddress({});
      fromTop = true;
      fitNext = true;
      reload().catch(() => {});
    });
  });

  filtersFromAddress();
  map = SL.townMap(mapElement, errorBox);
  SL.autoRefresh(reload);
})();
