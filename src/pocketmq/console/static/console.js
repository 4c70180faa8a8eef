// Live charts: every element with class "chart" polls its data-source (JSON) every 2 s and draws
// the last 60 points of each series in data-series as an SVG line. A failed poll or a JSON
// "error" is shown in #live-status; the page never hangs on a dead broker (each poll times out).
(function () {
  "use strict";
  var POINTS = 60, PERIOD_MS = 2000, TIMEOUT_MS = 8000;
  var COLORS = ["#1f6feb", "#d1242f", "#1a7f37"];

  function status(text) {
    var el = document.getElementById("live-status");
    if (el) { el.textContent = text || ""; }
  }

  function draw(chart, history, names) {
    var w = chart.clientWidth || 640, h = chart.clientHeight || 180, max = 1;
    names.forEach(function (n) { history[n].forEach(function (v) { if (v > max) { max = v; } }); });
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", w); svg.setAttribute("height", h);
    names.forEach(function (n, i) {
      var pts = history[n].map(function (v, j) {
        return (j * (w - 10) / (POINTS - 1) + 5).toFixed(1) + "," + (h - 20 - v / max * (h - 30)).toFixed(1);
      }).join(" ");
      var line = document.createElementNS(ns, "polyline");
      line.setAttribute("points", pts); line.setAttribute("fill", "none");
      line.setAttribute("stroke", COLORS[i % COLORS.length]); line.setAttribute("stroke-width", "2");
      svg.appendChild(line);
      var label = document.createElementNS(ns, "text");
      var last = history[n].length ? history[n][history[n].length - 1] : 0;
      label.setAttribute("x", 8 + i * 160); label.setAttribute("y", h - 4);
      label.setAttribute("fill", COLORS[i % COLORS.length]);
      label.textContent = n + ": " + last;
      svg.appendChild(label);
    });
    chart.replaceChildren(svg);
    chart.setAttribute("data-last", names.map(function (n) {
      return n + "=" + (history[n].length ? history[n][history[n].length - 1] : "");
    }).join(";"));
  }

  function poll(chart) {
    var names = chart.getAttribute("data-series").split(",");
    var history = {};
    names.forEach(function (n) { history[n] = []; });
    function tick() {
      var ctl = new AbortController();
      var timer = setTimeout(function () { ctl.abort(); }, TIMEOUT_MS);
      fetch(chart.getAttribute("data-source"), { signal: ctl.signal, cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          status(data.error ? "Live data: " + data.error : "");
          if (!data.error || names.some(function (n) { return n in data; })) {
            names.forEach(function (n) {
              if (n in data) { history[n].push(Number(data[n])); }
              if (history[n].length > POINTS) { history[n].shift(); }
            });
            draw(chart, history, names);
          }
        })
        .catch(function () { status("Live data: the console does not answer"); })
        .finally(function () { clearTimeout(timer); setTimeout(tick, PERIOD_MS); });
    }
    tick();
  }

  document.querySelectorAll(".chart").forEach(poll);
})();
