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

  // The spec's mark colors are parameters; usermeta.vigil.dark holds their dark-mode values.
  function prepare(base, csvUrl, dark) {
    var spec = JSON.parse(JSON.stringify(base));
    spec.data = Object.assign({}, spec.data, { url: csvUrl });
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
    function render(base) {
      var dark = !!(darkQuery && darkQuery.matches);
      var target = document.createElement("div");
      target.className = "vigil-chart__interactive";
      (current ? current.target : still).insertAdjacentElement("afterend", target);
      var options = { actions: false, renderer: "svg", config: themeConfig(figure), tooltip: { theme: dark ? "dark" : "light" } };
      return window.vegaEmbed(target, prepare(base, figure.getAttribute("data-vigil-csv"), dark), options).then(
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
    window
      .fetch(figure.getAttribute("data-vigil-spec"))
      .then(function (response) {
        if (!response.ok) throw new Error("the chart spec answered HTTP " + response.status);
        return response.json();
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
