/*
 * vigil: the script of the embed code. Sizes each vigil iframe on this page (iframe[data-vigil-embed])
 * to the height its page posts, so the chart shows whole with no scroll bar. A message counts only
 * from the very frame it sizes (matched by event.source), and only as a plain height.
 */
(function () {
  "use strict";
  if (window.__vigilEmbed) return;
  window.__vigilEmbed = true;
  var MAX = 20000;
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || typeof data !== "object") return;
    var height = data.vigil === "embed-size" || (data.sentinel === "amp" && data.type === "embed-size") ? Number(data.height) : NaN;
    if (!(height > 0 && height < MAX)) return;
    var frames = document.querySelectorAll("iframe[data-vigil-embed]");
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === event.source) {
        frames[i].style.height = Math.ceil(height) + "px";
        frames[i].setAttribute("height", String(Math.ceil(height)));
        return;
      }
    }
  });
})();
