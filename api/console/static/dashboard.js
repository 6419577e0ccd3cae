/* The dashboard: fleet figures and a map of every lamp coloured by its state, refreshed every minute.
 *
 * The map needs no internet: the lamps are drawn from their coordinates as SVG circles
 * on a plain background. Tiles are added only when the town configured a tile server.
 */
(function () {
  "use strict";
  const SL = window.SL;
  const { config, t, h, api, fmt, STATES, STATE_COLOURS } = SL;

  const SVG_LIMIT = 20000; // beyond this many lamps, draw on a canvas instead of SVG elements

  // Unknown lamp ids are for those who commission lamps (as in the API).
  const fieldStaff = Boolean(config.user) && ["technician", "admin"].includes(config.user.role);
  const errorBox = document.getElementById("dashboard-error");
  const mapElement = document.getElementById("map");
  const mapCount = document.getElementById("map-count");
  const mapNote = document.getElementById("map-note");

  let map = null;
  let renderer = null;
  let fitted = false;
  const markers = new Map(); // lamp_id -> L.CircleMarker
  const lampsById = new Map();

  // ------------------------------------------------------------------ figures

  function setKpi(name, text, alert) {
    const element = document.querySelector(`[data-kpi="${name}"]`);
    if (!element) return;
    element.textContent = text;
    const card = element.closest(".kpi");
    if (card && alert !== undefined) card.classList.toggle("kpi-alert", Boolean(alert));
  }

  function renderSummary(summary) {
    const connectivity = summary.connectivity || {};
    setKpi("lamps_out", fmt.number(summary.lamps_out), summary.lamps_out > 0);
    setKpi("offline", fmt.number(connectivity.offline), connectivity.offline > 0);
    setKpi("total", fmt.number(summary.lamps_total));
    setKpi("energy_today", fmt.energyKwh(summary.energy ? summary.energy.today_kwh : null));
    setKpi("energy_month", fmt.energyKwh(summary.energy ? summary.energy.month_kwh : null));

    const stateBody = document.querySelector("#state-table tbody");
    const byState = summary.lamps_by_state || {};
    stateBody.replaceChildren(
      ...STATES.map((state) =>
        h("tr", { dataset: { state } },
          h("th", { scope: "row" },
            h("span", { class: `swatch swatch-${state}`, "aria-hidden": "true" }),
            SL.stateLabel(state)),
          h("td", { class: "num" }, fmt.number(byState[state] || 0)))),
    );

    const onlineBody = document.querySelector("#online-table tbody");
    const unknownPending = summary.unknown_lamps_pending || 0;
    onlineBody.replaceChildren(
      h("tr", {}, h("th", { scope: "row" }, h("span", { class: "swatch swatch-online", "aria-hidden": "true" }), t("online.online")),
        h("td", { class: "num" }, fmt.number(connectivity.online))),
      h("tr", {}, h("th", { scope: "row" }, h("span", { class: "swatch swatch-offline", "aria-hidden": "true" }),
        h("a", { href: "/lists/offline" }, t("online.offline"))),
        h("td", { class: "num" }, fmt.number(connectivity.offline))),
      h("tr", {}, h("th", { scope: "row" }, h("span", { class: "swatch swatch-unknown", "aria-hidden": "true" }), t("online.never")),
        h("td", { class: "num" }, fmt.number(connectivity.unknown))),
      h("tr", {}, h("th", { scope: "row" }, h("span", { class: "swatch swatch-commission", "aria-hidden": "true" }),
        fieldStaff ? h("a", { href: "/lists/unknown" }, t("dashboard.online.awaiting")) : t("dashboard.online.awaiting")),
        h("td", { class: "num" }, fmt.number(unknownPending))),
    );
  }

  // ------------------------------------------------------------------ map

  function markerRadius() {
    // Small dots for the whole town (they line the streets), larger ones to tap when zoomed in.
    const zoom = map ? map.getZoom() : 14;
    return Math.max(2.5, Math.min(9, 3 + (zoom - 14) * 1.4));
  }

  function markerStyle(lamp) {
    const offline = lamp.online === false;
    return {
      radius: markerRadius(),
      color: offline ? "#111827" : "#ffffff",
      weight: offline ? 2 : 1,
      opacity: 1,
      fillColor: STATE_COLOURS[lamp.state] || "#6b7785",
      fillOpacity: lamp.state === "retired" ? 0.55 : 0.95,
    };
  }

  function popupContent(lamp) {
    // The map knows only id, position, state and connection: the name and street come when asked for.
    const title = h("strong", {}, lamp.lamp_id);
    const sub = h("p", { class: "muted" }, lamp.lamp_id);
    api("/api/v1/lamps/" + encodeURIComponent(lamp.lamp_id)).then((detail) => {
      title.textContent = detail.name || detail.lamp_id;
      sub.textContent = detail.lamp_id + (detail.street ? " · " + detail.street : "");
    }).catch(() => {}); // the popup still leads to the lamp's page
    return h("div", { class: "lamp-popup" },
      h("p", { class: "lamp-popup-title" }, title),
      sub,
      h("p", {}, SL.stateBadge(lamp.state), " ", SL.onlineBadge(lamp.online)),
      h("p", {}, h("a", { class: "btn btn-primary btn-small", href: "/lamps/" + encodeURIComponent(lamp.lamp_id) },
        t("dashboard.map.open_lamp"))));
  }

  function initMap() {
    map = SL.townMap(mapElement, errorBox);
    if (!map) return;
    map.on("zoomend", () => {
      const radius = markerRadius();
      for (const marker of markers.values()) marker.setRadius(radius);
    });
  }

  function decorate(marker, lamp) {
    const element = marker.getElement && marker.getElement();
    if (!element) return;
    element.classList.add("lamp-marker");
    element.setAttribute("data-lamp-id", lamp.lamp_id);
    element.setAttribute("data-state", lamp.state);
    element.setAttribute("data-online", String(lamp.online));
  }

  function drawLamps(lamps, withoutPosition) {
    if (!map) return;
    if (!renderer) renderer = lamps.length > SVG_LIMIT ? L.canvas({ padding: 0.5 }) : L.svg({ padding: 0.5 });
    const seen = new Set();
    const bounds = [];
    // Lamps in service first, so that problem lamps are drawn on top of them.
    const order = [...lamps].sort((a, b) => (a.state === "in_service" ? 0 : 1) - (b.state === "in_service" ? 0 : 1));
    for (const lamp of order) {
      seen.add(lamp.lamp_id);
      bounds.push([lamp.lat, lamp.lon]);
      let marker = markers.get(lamp.lamp_id);
      if (!marker) {
        marker = L.circleMarker([lamp.lat, lamp.lon], { renderer, bubblingMouseEvents: false, ...markerStyle(lamp) });
        marker.bindPopup(() => popupContent(lampsById.get(marker.lampId) || lamp), { maxWidth: 280 });
        marker.lampId = lamp.lamp_id;
        marker.addTo(map);
        markers.set(lamp.lamp_id, marker);
      } else {
        marker.setLatLng([lamp.lat, lamp.lon]);
        marker.setStyle(markerStyle(lamp));
      }
      if (lamp.state !== "in_service") marker.bringToFront();
      decorate(marker, lamp);
    }
    for (const [lampId, marker] of markers) {
      if (!seen.has(lampId)) {
        marker.remove();
        markers.delete(lampId);
      }
    }
    if (!fitted && bounds.length) {
      map.fitBounds(bounds, { padding: [24, 24], maxZoom: 18 });
      fitted = true;
    }
    mapElement.dataset.drawn = String(markers.size);
    mapCount.textContent = t("dashboard.map.count", { count: fmt.number(markers.size) });
    mapNote.textContent = withoutPosition
      ? t("dashboard.map.without_position", { count: fmt.number(withoutPosition) })
      : t("dashboard.map.note");
  }

  /** Every lamp on the map, from one compact answer (parallel arrays) rather than pages of full records. */
  async function fetchMapLamps() {
    const columns = await api("/api/v1/fleet/map");
    const lamps = new Array(columns.lamp_id.length);
    for (let i = 0; i < lamps.length; i += 1) {
      lamps[i] = {
        lamp_id: columns.lamp_id[i],
        lat: columns.lat[i],
        lon: columns.lon[i],
        state: columns.states[columns.state[i]],
        online: columns.online[i],
      };
    }
    return { lamps, withoutPosition: columns.without_position };
  }

  // ------------------------------------------------------------------ refresh

  async function refresh() {
    try {
      const [summary, onMap] = await Promise.all([api("/api/v1/fleet/summary"), fetchMapLamps()]);
      SL.showError(errorBox, "");
      renderSummary(summary);
      lampsById.clear();
      for (const lamp of onMap.lamps) lampsById.set(lamp.lamp_id, lamp);
      drawLamps(onMap.lamps, onMap.withoutPosition);
    } catch (err) {
      SL.showError(errorBox, SL.errorText(err));
      throw err;
    }
  }

  // ------------------------------------------------------------------ find a lamp

  const findForm = document.getElementById("find-form");
  const findStatus = document.getElementById("find-status");
  const findResults = document.getElementById("find-results");
  findForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = findForm.elements.q.value.trim();
    findResults.replaceChildren();
    if (!q) {
      findStatus.textContent = "";
      return;
    }
    findStatus.textContent = t("common.loading");
    try {
      const page = await api("/api/v1/lamps", { params: { q, limit: 20 } });
      findStatus.textContent = page.total
        ? t("dashboard.find.found", { count: fmt.number(page.total), shown: fmt.number(page.items.length) })
        : t("dashboard.find.none");
      findResults.replaceChildren(...page.items.map((lamp) =>
        h("li", {},
          h("a", { href: "/lamps/" + encodeURIComponent(lamp.lamp_id) },
            h("span", { class: "link-title" }, lamp.name || lamp.lamp_id),
            h("span", { class: "link-sub" }, `${lamp.lamp_id}${lamp.street ? " · " + lamp.street : ""}`)),
          SL.stateBadge(lamp.state))));
    } catch (err) {
      findStatus.textContent = SL.errorText(err);
    }
  });

  initMap();
  SL.autoRefresh(refresh);
})();
