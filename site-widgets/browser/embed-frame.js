/*
 * vigil: inside an embed page (static/vigil/embed/ID/), tells the page that frames it how tall it
 * is, whenever that changes (the interactive chart replacing the static one, a table opened, a
 * narrower frame): static/vigil/embed.js sizes the iframe from it. Also says it the way AMP's
 * amp-iframe listens for ({sentinel: "amp", type: "embed-size"}).
 */
(function () {
  "use strict";
  if (window.parent === window) return;
  var last = 0;
  function post() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ vigil: "embed-size", height: height }, "*");
    window.parent.postMessage({ sentinel: "amp", type: "embed-size", height: height }, "*");
  }
  if (typeof window.ResizeObserver === "function") new window.ResizeObserver(post).observe(document.documentElement);
  window.addEventListener("load", post);
  document.addEventListener("toggle", post, true);
  post();
})();
