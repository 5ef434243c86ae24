/*
 * vigil: turns each static chart (<figure data-vigil-spec>) into the interactive one. Written by
 * `vigil widgets`; loaded after the self-hosted vega, vega-lite and vega-embed bundles, once per
 * page with a chart. The static SVG stays visible until the interactive chart has rendered, and
 * comes back if anything fails, so the page never loses its chart. Nothing is fetched from
 * another host: the spec and the CSV come from the URLs the figure names.
 */
(function () {
  "use strict";
  if (typeof window.vegaEmbed !== "function" || typeof window.fetch !== "function") return;
  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  // Text and axes take the figure's own text color, so the chart follows the page's theme.
  function themeConfig(figure) {
    var text = window.getComputedStyle(figure).color;
    return {
      background: null,
      font: "system-ui, sans-serif",
      view: { stroke: null },
      axis: { labelColor: text, titleColor: text, domainColor: text, tickColor: text, gridColor: text, gridOpacity: 0.15 },
      legend: { labelColor: text, titleColor: text },
      // marks without a color of their own: the dated events' lines and labels
      rule: { color: text },
      text: { color: text },
      title: { color: text },
    };
  }

  // RFC 4180 CSV (as vigil writes it) to one object per row, every value a string. Read here rather
  // than by Vega, whose CSV reader builds each row with Function: a page whose policy has no
  // 'unsafe-eval' would get charts without data.
  function parseCsv(text) {
    var rows = [];
    var row = [];
    var field = "";
    var quoted = false;
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
        else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") row.push(field), (field = "");
      else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        row.push(field), rows.push(row), (row = []), (field = "");
      } else field += c;
    }
    if (field !== "" || row.length > 0) row.push(field), rows.push(row);
    var header = rows.shift() || [];
    return rows.map(function (cells) {
      var record = {};
      for (var j = 0; j < header.length; j++) record[header[j]] = cells[j] === undefined ? "" : cells[j];
      return record;
    });
  }

  // The spec's mark colors are parameters; usermeta.vigil.dark holds their dark-mode values. The
  // data is the chart's CSV, read by parseCsv, typed by the spec's own format.parse.
  function prepare(base, rows, dark) {
    var spec = JSON.parse(JSON.stringify(base));
    var parse = spec.data && spec.data.format ? spec.data.format.parse : undefined;
    spec.data = { values: rows, format: { type: "json", parse: parse } };
    var colors = dark && spec.usermeta && spec.usermeta.vigil ? spec.usermeta.vigil.dark || {} : {};
    (spec.params || []).forEach(function (param) {
      if (Object.prototype.hasOwnProperty.call(colors, param.name)) param.value = colors[param.name];
    });
    return spec;
  }

  function upgrade(figure) {
    var still = figure.querySelector(".vigil-chart__static");
    var current = null;

    function keepStatic(error) {
      if (current) {
        current.result.finalize();
        current.target.remove();
        current = null;
      }
      if (still) still.hidden = false;
      figure.setAttribute("data-vigil-state", "static");
      if (window.console) window.console.warn("vigil: kept the static chart", figure.getAttribute("data-vigil-chart"), error);
    }

    // Renders into a fresh element beside the current one and swaps only once it has drawn.
    var rows = null;
    function render(base) {
      var dark = !!(darkQuery && darkQuery.matches);
      var target = document.createElement("div");
      target.className = "vigil-chart__interactive";
      (current ? current.target : still).insertAdjacentElement("afterend", target);
      // ast: Vega's expression interpreter instead of compiling expressions with Function, so the
      // charts run under a Content-Security-Policy without 'unsafe-eval'
      var options = { actions: false, ast: true, renderer: "svg", config: themeConfig(figure), tooltip: { theme: dark ? "dark" : "light" } };
      return window.vegaEmbed(target, prepare(base, rows, dark), options).then(
        function (result) {
          if (current) {
            current.result.finalize();
            current.target.remove();
          }
          current = { target: target, result: result };
          if (still) still.hidden = true;
          figure.setAttribute("data-vigil-state", "interactive");
        },
        function (error) {
          target.remove();
          throw error;
        },
      );
    }

    figure.setAttribute("data-vigil-state", "loading");
    function get(url, what) {
      return window.fetch(url).then(function (response) {
        if (!response.ok) throw new Error("the chart " + what + " answered HTTP " + response.status);
        return response.text();
      });
    }
    Promise.all([get(figure.getAttribute("data-vigil-spec"), "spec"), get(figure.getAttribute("data-vigil-csv"), "data")])
      .then(function (answers) {
        rows = parseCsv(answers[1]);
        return JSON.parse(answers[0]);
      })
      .then(function (base) {
        return render(base).then(function () {
          if (darkQuery && darkQuery.addEventListener) {
            darkQuery.addEventListener("change", function () {
              render(base).catch(keepStatic);
            });
          }
        });
      })
      .catch(keepStatic);
  }

  function start() {
    var figures = document.querySelectorAll("figure.vigil-chart[data-vigil-spec]");
    for (var i = 0; i < figures.length; i++) upgrade(figures[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
