/* Fleetsight: the charts of a recommendation's page, drawn from data the advisor serves.
 *
 * - [data-series-url]: fetches the load-time series (advisor/ui/chart_series.py) and draws,
 *   per app, the daily median load time of the recommendation's hosts beside the others',
 *   per start kind, with uPlot (static/vendor/uplot), version changes and change points
 *   marked; a table summing each series up follows for screen readers.
 * - [data-cohorts]: the evidence's cohorts side by side, each estimate with its interval, from
 *   the numbers in the container's hidden list (the evidence table shows them as text).
 *
 * A container gets data-rendered="true" once drawn. No inline script or style anywhere: the
 * page's Content-Security-Policy allows neither.
 */
(function () {
  "use strict";

  var DAY = 86400;
  var COLOURS = { these: "#1f5fbf", others: "#6b7280" };
  var MARKS = { version: "#b45309", change: "#a4262c" };
  var GROUP_TEXT = { these: "these hosts", others: "other hosts" };

  function el(name, attrs, text) {
    var node = document.createElement(name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function dateText(at) { return new Date(at * 1000).toISOString().slice(0, 10); }

  function secondsText(value) {
    return value === null || value === undefined ? "-" : value.toFixed(2) + " s";
  }

  function seriesLabel(s) { return GROUP_TEXT[s.group] + ", " + s.start + " start"; }

  function status(container, text) {
    var note = container.querySelector(".chart-status");
    if (!note) { note = el("p", { "class": "note chart-status" }); container.appendChild(note); }
    note.textContent = text;
  }

  function markerPlugin(markers) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx;
          var top = u.bbox.top;
          var bottom = top + u.bbox.height;
          ctx.save();
          ctx.lineWidth = Math.max(1, devicePixelRatio);
          markers.forEach(function (m) {
            var x = u.valToPos(m.at, "x", true);
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) { return; }
            ctx.strokeStyle = MARKS[m.kind] || MARKS.version;
            ctx.setLineDash(m.kind === "change" ? [] : [4 * devicePixelRatio, 3 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, bottom);
            ctx.stroke();
          });
          ctx.restore();
        }]
      }
    };
  }

  function legend(app) {
    var list = el("ul", { "class": "chart-legend" });
    app.series.forEach(function (s) {
      var item = el("li");
      item.appendChild(el("span", { "class": "swatch swatch-" + s.group + "-" + s.start, "aria-hidden": "true" }));
      item.appendChild(document.createTextNode(seriesLabel(s)));
      list.appendChild(item);
    });
    [["version", "version change"], ["change", "change point"]].forEach(function (pair) {
      if (!app.markers.some(function (m) { return m.kind === pair[0]; })) { return; }
      var item = el("li");
      item.appendChild(el("span", { "class": "swatch swatch-" + pair[0], "aria-hidden": "true" }));
      item.appendChild(document.createTextNode(pair[1]));
      list.appendChild(item);
    });
    return list;
  }

  function summary(app, days) {
    // A table sizes to its content whatever its width: the wrapper is what hides it.
    var hidden = el("div", { "class": "sr" });
    var table = hidden.appendChild(el("table"));
    table.appendChild(el("caption", {}, "Daily median load time of " + app.app + " (" +
      dateText(days[0]) + " to " + dateText(days[days.length - 1]) + ", UTC)"));
    var head = el("tr");
    ["Series", "Days with launches", "First day", "Last day", "Lowest", "Highest"].forEach(function (h) {
      head.appendChild(el("th", { scope: "col" }, h));
    });
    table.appendChild(el("thead")).appendChild(head);
    var body = table.appendChild(el("tbody"));
    app.series.forEach(function (s) {
      var values = s.seconds.filter(function (v) { return v !== null; });
      var row = el("tr");
      row.appendChild(el("th", { scope: "row" }, seriesLabel(s)));
      [String(values.length), secondsText(values[0]), secondsText(values[values.length - 1]),
        secondsText(Math.min.apply(null, values)), secondsText(Math.max.apply(null, values))]
        .forEach(function (text) { row.appendChild(el("td", {}, text)); });
      body.appendChild(row);
    });
    return hidden;
  }

  function markerList(app) {
    var list = el("ul", { "class": "chart-markers" });
    app.markers.forEach(function (m) {
      list.appendChild(el("li", {}, dateText(m.at) + ": " + m.label));
    });
    return list;
  }

  function loadChart(container, app, days) {
    var figure = el("figure", { "class": "chart-figure" });
    figure.appendChild(el("figcaption", {}, app.app + ": daily median load time, seconds"));
    container.appendChild(figure);
    if (!app.series.length) {
      figure.appendChild(el("p", { "class": "note" }, "No launches of " + app.app + " in the window."));
      return;
    }
    var plotBox = el("div", { "class": "chart-plot" });
    figure.appendChild(plotBox);
    var series = [{}].concat(app.series.map(function (s) {
      return {
        label: seriesLabel(s),
        stroke: COLOURS[s.group],
        width: 2,
        dash: s.start === "warm" ? [6, 4] : undefined,
        spanGaps: true,
        points: { show: false }
      };
    }));
    var data = [days].concat(app.series.map(function (s) { return s.seconds; }));
    var opts = {
      width: Math.max(plotBox.clientWidth || container.clientWidth, 240),
      height: 260,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: true } },
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      axes: [
        { label: "Date (UTC)", stroke: "#1d2330" },
        {
          label: "Median load time (s)",
          stroke: "#1d2330",
          values: function (u, vals) { return vals.map(function (v) { return v + " s"; }); }
        }
      ],
      series: series,
      plugins: [markerPlugin(app.markers)]
    };
    var plot = new uPlot(opts, data, plotBox);
    var canvas = plot.ctx.canvas;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", "Line chart of the daily median load time of " + app.app +
      " for " + app.series.map(seriesLabel).join("; ") + ", with " + app.markers.length +
      " marked dates; the table that follows sums it up.");
    figure.appendChild(legend(app));
    if (app.markers.length) { figure.appendChild(markerList(app)); }
    figure.appendChild(summary(app, days));
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(plotBox.clientWidth, 240), height: 260 });
    });
  }

  function drawSeries(container) {
    fetch(container.getAttribute("data-series-url"), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (answer) {
      if (!answer.ok) { throw new Error("HTTP " + answer.status); }
      return answer.json();
    }).then(function (payload) {
      status(container, payload.apps.length ? "" : "No load times to chart for this recommendation.");
      payload.apps.forEach(function (app) { loadChart(container, app, payload.days); });
      container.setAttribute("data-rendered", "true");
    }).catch(function () {
      status(container, "The load-time chart could not be loaded; the tables below have the figures.");
      container.setAttribute("data-rendered", "false");
    });
  }

  function niceStep(span) {
    var raw = span / 5;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (raw <= steps[i] * power) { return steps[i] * power; }
    }
    return 10 * power;
  }

  function drawCohorts(container) {
    var items = Array.prototype.map.call(container.querySelectorAll("li[data-estimate]"), function (li) {
      return {
        label: li.getAttribute("data-app") + " · " + li.getAttribute("data-start"),
        estimate: parseFloat(li.getAttribute("data-estimate")),
        low: parseFloat(li.getAttribute("data-low")),
        high: parseFloat(li.getAttribute("data-high"))
      };
    }).filter(function (c) { return isFinite(c.estimate) && isFinite(c.low) && isFinite(c.high); });
    if (!items.length) { return; }
    var width = Math.max(container.clientWidth, 240);
    var rowHeight = 34;
    var labelWidth = Math.min(160, width * 0.4);
    var height = items.length * rowHeight + 50;
    var ratio = window.devicePixelRatio || 1;
    var canvas = el("canvas", { width: String(width * ratio), height: String(height * ratio) });
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", "Seconds saved per launch, by app and start kind, with " +
      "intervals: " + items.map(function (c) {
        return c.label + " " + c.estimate.toFixed(2) + " s (" + c.low.toFixed(2) + " to " +
          c.high.toFixed(2) + ")";
      }).join("; ") + ".");
    canvas.className = "cohort-canvas";
    container.appendChild(canvas);
    var ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    var lo = Math.min(0, Math.min.apply(null, items.map(function (c) { return c.low; })));
    var hi = Math.max.apply(null, items.map(function (c) { return c.high; }));
    if (hi <= lo) { hi = lo + 1; }
    var step = niceStep(hi - lo);
    lo = Math.floor(lo / step) * step;
    hi = Math.ceil(hi / step) * step;
    var left = labelWidth + 8;
    var right = width - 16;
    function x(v) { return left + (v - lo) / (hi - lo) * (right - left); }
    ctx.font = "13px system-ui, sans-serif";
    ctx.fillStyle = "#1d2330";
    ctx.strokeStyle = "#d5d9e0";
    ctx.textBaseline = "middle";
    var axisY = items.length * rowHeight + 8;
    for (var t = lo; t <= hi + step / 2; t += step) {
      ctx.beginPath();
      ctx.moveTo(x(t), 4);
      ctx.lineTo(x(t), axisY);
      ctx.stroke();
      ctx.textAlign = "center";
      ctx.fillText(Number(t.toFixed(3)) + " s", x(t), axisY + 12);
    }
    ctx.textAlign = "center";
    ctx.fillText("Seconds saved a launch", (left + right) / 2, axisY + 32);
    items.forEach(function (c, i) {
      var y = i * rowHeight + rowHeight / 2 + 4;
      ctx.textAlign = "right";
      ctx.fillStyle = "#1d2330";
      ctx.fillText(c.label, labelWidth, y, labelWidth);
      ctx.strokeStyle = COLOURS.these;
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.moveTo(x(c.low), y);
      ctx.lineTo(x(c.high), y);
      ctx.stroke();
      ctx.fillStyle = COLOURS.these;
      ctx.beginPath();
      ctx.arc(x(c.estimate), y, 6, 0, 2 * Math.PI);
      ctx.fill();
    });
    container.setAttribute("data-rendered", "true");
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-series-url]"), drawSeries);
    Array.prototype.forEach.call(document.querySelectorAll("[data-cohorts]"), drawCohorts);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
