/* One lamp: inventory, connection, last reading, events, and charts of its telemetry over a chosen range. */
(function () {
  "use strict";
  const SL = window.SL;
  const { config, t, h, api, fmt, fact, eventLabel } = SL;
  const lampId = config.lampId;
  const lampPath = "/api/v1/lamps/" + encodeURIComponent(lampId);

  // The range picker's choices, and the bucket each is drawn with (about 30 to 300 points).
  const RANGES = {
    "24h": { hours: 24, bucket: "5min", seconds: 300 },
    "7d": { hours: 24 * 7, bucket: "1h", seconds: 3600 },
    "30d": { hours: 24 * 30, bucket: "1d", seconds: 86400 },
  };
  const METRICS = SL.METRICS;

  const errorBox = document.getElementById("lamp-error");
  const chartsStatus = document.getElementById("charts-status");
  const plots = new Map(); // field -> uPlot instance

  // ------------------------------------------------------------------ details

  function eventDetail(detail) {
    if (detail === null || detail === undefined || detail === "") return "";
    if (typeof detail === "string") return detail;
    return Object.entries(detail).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
  }

  function eventItem(event) {
    return h("li", { class: `event event-${event.type}` },
      h("span", { class: "event-type" }, eventLabel(event.type)),
      h("time", { datetime: event.ts, class: "event-time" }, fmt.dateTime(event.ts)),
      event.detail ? h("span", { class: "event-detail" }, eventDetail(event.detail)) : null,
      h("span", { class: "event-source muted" }, t("source." + event.source)));
  }

  function renderLamp(lamp) {
    document.getElementById("lamp-title").textContent = lamp.name || lamp.lamp_id;
    document.title = `${lamp.name || lamp.lamp_id} · ${t("lamp.title")} · Streetlight`;
    document.getElementById("lamp-subtitle").textContent =
      [lamp.lamp_id, lamp.street, lamp.circuit && t("lamp.circuit_short", { circuit: lamp.circuit })].filter(Boolean).join(" · ");

    const connection = SL.onlineBadge(lamp.online);
    if (lamp.status && lamp.status.changed_at) {
      const key = lamp.status.online ? "lamp.online_since" : "lamp.offline_since";
      connection.textContent = t(key, { when: fmt.dateTime(lamp.status.changed_at) });
    }
    document.getElementById("lamp-badges").replaceChildren(SL.stateBadge(lamp.state), connection);

    const position = typeof lamp.lat === "number" && typeof lamp.lon === "number"
      ? `${fmt.number(lamp.lat, 6)}, ${fmt.number(lamp.lon, 6)}` : null;
    document.getElementById("inventory").replaceChildren(
      ...fact(t("lamp.field.lamp_id"), lamp.lamp_id),
      ...fact(t("lamp.field.name"), lamp.name),
      ...fact(t("lamp.field.street"), lamp.street),
      ...fact(t("lamp.field.address"), lamp.address),
      ...fact(t("lamp.field.circuit"), lamp.circuit),
      ...fact(t("lamp.field.group"), lamp.group_name),
      ...fact(t("lamp.field.lighting_class"), lamp.lighting_class),
      ...fact(t("lamp.field.model"), lamp.model),
      ...fact(t("lamp.field.technology"), lamp.technology),
      ...fact(t("lamp.field.rated_power"), lamp.rated_power_w == null ? null : fmt.unit(lamp.rated_power_w, "W", 0)),
      ...fact(t("lamp.field.install_date"), fmt.day(lamp.install_date)),
      ...fact(t("lamp.field.position"), position),
    );

    const r = lamp.last_reading;
    const reading = document.getElementById("last-reading");
    if (!r) {
      reading.replaceChildren(h("p", { class: "muted" }, t("lamp.no_reading")));
    } else {
      reading.replaceChildren(
        ...fact(t("lamp.field.reading_time"), h("span", {}, h("time", { datetime: r.ts }, fmt.dateTime(r.ts)),
          " ", h("span", { class: "muted small" }, `(${fmt.ago(r.ts)})`))),
        ...fact(t("metric.power_w"), fmt.unit(r.power_w, "W", 1)),
        ...fact(t("metric.voltage_v"), fmt.unit(r.voltage_v, "V", 1)),
        ...fact(t("metric.current_a"), fmt.unit(r.current_a, "A", 3)),
        ...fact(t("metric.power_factor"), fmt.number(r.power_factor, 2)),
        ...fact(t("metric.dim_level"), fmt.unit(r.dim_level, "%", 0)),
        ...fact(t("metric.driver_temp_c"), fmt.unit(r.driver_temp_c, "°C", 1)),
        ...fact(t("metric.energy"), r.energy_wh == null ? null : fmt.unit(r.energy_wh / 1000, "kWh", 1)),
        ...fact(t("metric.burning_hours"), fmt.unit(r.burning_hours, "h", 0)),
        ...fact(t("metric.switch_cycles"), fmt.number(r.switch_cycles)),
        ...fact(t("metric.rssi_dbm"), fmt.unit(r.rssi_dbm, "dBm", 0)),
      );
    }

    const open = document.getElementById("open-events");
    open.replaceChildren(...(lamp.open_events.length
      ? lamp.open_events.map(eventItem)
      : [h("li", { class: "muted event-none" }, t("lamp.no_open_events"))]));
  }

  async function loadDetails() {
    try {
      const [lamp, events] = await Promise.all([
        api(lampPath),
        api("/api/v1/events", { params: { lamp_id: lampId, limit: 10 } }),
      ]);
      SL.showError(errorBox, "");
      renderLamp(lamp);
      const recent = document.getElementById("recent-events");
      recent.replaceChildren(...(events.items.length
        ? events.items.map(eventItem)
        : [h("li", { class: "muted event-none" }, t("lamp.no_events"))]));
    } catch (err) {
      SL.showError(errorBox, err instanceof SL.ApiError && err.status === 404 ? t("lamp.not_found", { id: lampId }) : SL.errorText(err));
      throw err;
    }
  }

  // ------------------------------------------------------------------ charts

  const monthNames = (style) => Array.from({ length: 12 }, (_, m) =>
    new Intl.DateTimeFormat(fmt.locale, { month: style, timeZone: "UTC" }).format(Date.UTC(2021, m, 15)));
  const dayNames = (style) => Array.from({ length: 7 }, (_, d) =>
    new Intl.DateTimeFormat(fmt.locale, { weekday: style, timeZone: "UTC" }).format(Date.UTC(2021, 1, 7 + d)));
  const dateNames = { MMMM: monthNames("long"), MMM: monthNames("short"), WWWW: dayNames("long"), WWW: dayNames("short") };

  const tickTime = new Intl.DateTimeFormat(fmt.locale, { timeZone: fmt.zone, hour: "2-digit", minute: "2-digit" });
  const tickDay = new Intl.DateTimeFormat(fmt.locale, { timeZone: fmt.zone, day: "numeric", month: "short" });
  const localDay = new Intl.DateTimeFormat("en-CA", { timeZone: fmt.zone, year: "numeric", month: "2-digit", day: "2-digit" });

  /** Axis labels in the town's time zone: times within a day, and the date where a day starts. */
  function timeTicks(u, splits, axisIdx, foundSpace, foundIncr) {
    let previousDay = null;
    return splits.map((ts) => {
      if (ts === null || ts === undefined) return "";
      const date = new Date(ts * 1000);
      const day = localDay.format(date);
      const newDay = day !== previousDay;
      previousDay = day;
      if (foundIncr >= 86400) return tickDay.format(date);
      return newDay ? `${tickTime.format(date)}\n${tickDay.format(date)}` : tickTime.format(date);
    });
  }

  function hexToRgba(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  /** The usual spacing of `xs` (their median step), at least `floor` seconds. */
  function usualStep(xs, floor) {
    const steps = [];
    for (let i = 1; i < xs.length; i += 1) steps.push(xs[i] - xs[i - 1]);
    if (!steps.length) return floor;
    steps.sort((a, b) => a - b);
    return Math.max(floor, steps[Math.floor(steps.length / 2)]);
  }

  /** uPlot columns from the API's answer, with a gap (null) wherever readings stop for a while. */
  function columns(telemetry, field, stepSeconds) {
    const rows = telemetry.points
      ? telemetry.points.map((p) => [Date.parse(p.ts) / 1000, p.values[field] ?? null, null, null])
      : (telemetry.buckets || []).map((b) => {
        const stats = b.values[field] || {};
        return [Date.parse(b.start) / 1000, stats.avg ?? null, stats.min ?? null, stats.max ?? null];
      });
    // Controllers report every few minutes, so short buckets are not all filled: only a silence of
    // three usual steps (a controller offline, a lamp without power) breaks the line.
    const gap = 3 * usualStep(rows.map((r) => r[0]), stepSeconds);
    const xs = [];
    const avg = [];
    const min = [];
    const max = [];
    let previous = null;
    for (const [x, a, lo, hi] of rows) {
      if (previous !== null && x - previous > gap) {
        xs.push(previous + stepSeconds); avg.push(null); min.push(null); max.push(null);
      }
      xs.push(x); avg.push(a); min.push(lo); max.push(hi);
      previous = x;
    }
    return telemetry.points ? { xs, avg, min: null, max: null } : { xs, avg, min, max };
  }

  function summaryText(field, data) {
    const spec = METRICS[field];
    const values = data.avg.filter((v) => v !== null && v !== undefined);
    if (!values.length) return t("lamp.chart_empty");
    const lows = (data.min || data.avg).filter((v) => v !== null && v !== undefined);
    const highs = (data.max || data.avg).filter((v) => v !== null && v !== undefined);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const show = (v) => (spec.unit ? fmt.unit(v, spec.unit, spec.digits) : fmt.number(v, spec.digits));
    return t("lamp.chart_summary", { min: show(Math.min(...lows)), avg: show(mean), max: show(Math.max(...highs)) });
  }

  function drawChart(figure, field, data, range) {
    const spec = METRICS[field];
    const holder = figure.querySelector(".chart-plot");
    const old = plots.get(field);
    if (old) { old.destroy(); plots.delete(field); }
    holder.replaceChildren();
    const count = data.avg.filter((v) => v !== null && v !== undefined).length;
    figure.dataset.points = String(count);
    figure.querySelector(".chart-summary").textContent = summaryText(field, data);
    if (!count) {
      holder.append(h("p", { class: "chart-empty muted" }, t("lamp.chart_empty")));
      return;
    }
    const valueText = (u, v) => (v === null || v === undefined ? "–" : fmt.number(v, spec.digits));
    const banded = Boolean(data.min);
    const series = [
      { label: t("lamp.chart_time"), value: (u, ts) => (ts === null || ts === undefined ? "–" : fmt.dateTime(ts * 1000)) },
    ];
    const columnsData = [data.xs];
    if (banded) {
      series.push(
        { label: t("lamp.chart_min"), stroke: hexToRgba(spec.colour, 0.35), width: 1, points: { show: false }, value: valueText },
        { label: t("lamp.chart_max"), stroke: hexToRgba(spec.colour, 0.35), width: 1, points: { show: false }, value: valueText },
      );
      columnsData.push(data.min, data.max);
    }
    series.push({
      label: banded ? t("lamp.chart_avg") : t("lamp.chart_value"),
      stroke: spec.colour, width: 2, points: { show: range.bucket === "1d", size: 5 }, value: valueText,
    });
    columnsData.push(data.avg);
    const width = Math.max(260, holder.clientWidth || 600);
    const options = {
      width,
      height: 190,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), fmt.zone),
      fmtDate: (template) => uPlot.fmtDate(template, dateNames),
      scales: {
        x: { time: true, range: () => [range.from / 1000, range.to / 1000] },
        y: field === "power_factor" ? { range: [0, 1] } : field === "dim_level" ? { range: [0, 100] } : {},
      },
      series,
      bands: banded ? [{ series: [2, 1], fill: hexToRgba(spec.colour, 0.14) }] : [],
      axes: [
        { values: timeTicks, stroke: "#4b5563", grid: { stroke: "#e5e7eb" }, ticks: { stroke: "#d1d5db" }, size: 46 },
        {
          values: (u, splits) => splits.map((v) => fmt.number(v, spec.digits > 1 ? 2 : spec.digits)),
          stroke: "#4b5563", grid: { stroke: "#e5e7eb" },
          ticks: { stroke: "#d1d5db" }, size: 52,
        },
      ],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
    };
    const plot = new uPlot(options, columnsData, holder);
    plots.set(field, plot);
  }

  let loadToken = 0;

  async function loadCharts(rangeName) {
    const spec = RANGES[rangeName] || RANGES["24h"];
    const token = ++loadToken;
    const to = Date.now();
    const from = to - spec.hours * 3600 * 1000;
    const range = { ...spec, from, to };
    chartsStatus.textContent = t("common.loading");
    document.getElementById("charts").setAttribute("aria-busy", "true");
    try {
      if (!window.uPlot) throw new Error("uPlot missing");
      const telemetry = await api(lampPath + "/telemetry", {
        params: {
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
          bucket: spec.bucket,
          fields: Object.keys(METRICS).join(","),
        },
      });
      if (token !== loadToken) return; // a newer choice of range is on its way
      for (const figure of document.querySelectorAll("figure.chart")) {
        const field = figure.dataset.field;
        drawChart(figure, field, columns(telemetry, field, spec.seconds), range);
      }
      chartsStatus.textContent = t("lamp.chart_range", {
        from: fmt.dateTime(from), to: fmt.dateTime(to), bucket: t("lamp.bucket." + spec.bucket),
      });
    } catch (err) {
      if (token !== loadToken) return;
      chartsStatus.textContent = window.uPlot ? SL.errorText(err) : t("error.vendor_missing");
    } finally {
      if (token === loadToken) document.getElementById("charts").removeAttribute("aria-busy");
    }
  }

  // Charts follow the width of their column (tablet turned, window resized).
  const resize = new ResizeObserver(() => {
    for (const [field, plot] of plots) {
      const holder = document.querySelector(`#chart-${field} .chart-plot`);
      const width = Math.max(260, holder.clientWidth);
      if (Math.abs(width - plot.width) > 4) plot.setSize({ width, height: plot.height });
    }
  });
  resize.observe(document.getElementById("charts"));

  // ------------------------------------------------------------------ recording a visit (technicians)

  const recordForm = document.getElementById("record-form");
  if (recordForm) {
    const status = document.getElementById("record-status");
    const submit = document.getElementById("record-submit");
    recordForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const chosen = recordForm.querySelector('input[name="type"]:checked');
      status.classList.remove("record-error");
      if (!chosen) {
        status.textContent = t("lamp.record.choose");
        status.classList.add("record-error");
        recordForm.querySelector('input[name="type"]').focus();
        return;
      }
      const note = recordForm.elements.note.value.trim();
      submit.disabled = true;
      try {
        const recorded = await api(lampPath + "/events", { method: "POST", json: { type: chosen.value, detail: note || null } });
        status.textContent = t("lamp.record.done", { what: eventLabel(recorded.type), when: fmt.dateTime(recorded.ts) });
        recordForm.reset();
        await loadDetails();
      } catch (err) {
        status.textContent = SL.errorText(err);
        status.classList.add("record-error");
      } finally {
        submit.disabled = false;
      }
    });
  }

  // ------------------------------------------------------------------ range picker

  const picker = document.getElementById("range-picker");
  const initial = new URLSearchParams(location.search).get("range");
  if (initial && RANGES[initial]) {
    const radio = picker.querySelector(`input[value="${initial}"]`);
    if (radio) radio.checked = true;
  }
  picker.addEventListener("change", (event) => {
    const value = event.target.value;
    const url = new URL(location.href);
    url.searchParams.set("range", value);
    history.replaceState(null, "", url);
    loadCharts(value);
  });

  SL.refreshEvery(config.refreshSeconds || 60, loadDetails);
  loadCharts(picker.querySelector("input:checked").value);
})();
