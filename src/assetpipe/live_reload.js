// assetpipe live reload: served by `assetpipe watch --live-reload`, loaded by live_reload_tag().
// It listens to the watcher's Server-Sent Events: a rebuild that changed only stylesheets swaps their
// <link> in place (no navigation: scroll and form state stay); any other change reloads the page; a
// failed rebuild shows its message in an overlay (as text, never as HTML) until the next good build.
// A lost connection is retried with backoff; reconnecting to a restarted watcher reloads the page.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__assetpipeLiveReload) return;
  window.__assetpipeLiveReload = true;
  var events = new URL("events", script.src).href;
  var OVERLAY = "assetpipe-live-reload-error";
  var server = null; // the watcher this page last heard from, and its build count
  var builds = null;
  var delay = 250;
  var source = null;

  // A URL as the page resolves it, without query or fragment (an unhashed sheet gets "?v=" when swapped).
  function absolute(url) {
    try {
      var u = new URL(url, document.baseURI);
      u.search = "";
      u.hash = "";
      return u.href;
    } catch (e) { return null; }
  }

  function showError(message) {
    var box = document.getElementById(OVERLAY);
    if (!box) {
      box = document.createElement("pre");
      box.id = OVERLAY;
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;left:0;right:0;bottom:0;z-index:2147483647;margin:0;" +
        "max-height:40vh;overflow:auto;padding:12px 16px;background:#1e1e1e;color:#ff8a80;" +
        "font:13px/1.4 ui-monospace,monospace;white-space:pre-wrap;border-top:3px solid #ff5252";
      document.documentElement.appendChild(box);
    }
    box.textContent = "assetpipe: " + message; // textContent: the message is never parsed as HTML
  }

  function hideError() {
    var box = document.getElementById(OVERLAY);
    if (box) box.remove();
  }

  // Swap each stylesheet link that loads a changed file; false when a change needs a reload instead.
  function swapStylesheets(changes) {
    var links = Array.prototype.slice.call(document.querySelectorAll("link[rel~=stylesheet][href]"));
    for (var i = 0; i < changes.length; i++) {
      var change = changes[i];
      if (change.kind !== "stylesheet" || change.url === null) return false;
    }
    changes.forEach(function (change) {
      var before = change.previous_url === null ? null : absolute(change.previous_url);
      links.forEach(function (link) {
        if (before === null || absolute(link.getAttribute("href")) !== before) return;
        var next = link.cloneNode(false);
        var url = change.url;
        // An unhashed stylesheet keeps its URL: a query string makes the browser fetch the new bytes.
        if (change.url === change.previous_url) url += (url.indexOf("?") < 0 ? "?" : "&") + "v=" + change.hash;
        next.setAttribute("href", url);
        if (link.hasAttribute("integrity")) next.setAttribute("integrity", change.integrity);
        // The old sheet stays until the new one has loaded, so the page never flashes unstyled; if the
        // new one cannot load (the server does not know it yet, integrity), a reload sorts it out.
        next.addEventListener("load", function () { link.remove(); });
        next.addEventListener("error", function () { location.reload(); });
        link.after(next);
      });
    });
    return true;
  }

  function onHello(event) {
    var data = JSON.parse(event.data);
    delay = 250;
    if (server !== null && (data.server !== server || data.builds !== builds)) {
      location.reload(); // a restarted watcher, or rebuilds this page missed while disconnected
      return;
    }
    server = data.server;
    builds = data.builds;
    if (data.error) showError(data.error); else hideError();
  }

  function onBuild(event) {
    var data = JSON.parse(event.data);
    builds = data.builds;
    hideError();
    if (data.reload) { location.reload(); return; }
    if (data.changes.length === 0) return;
    if (!swapStylesheets(data.changes)) location.reload();
  }

  function onFailed(event) {
    var data = JSON.parse(event.data);
    builds = data.builds;
    showError(data.message);
  }

  function connect() {
    source = new EventSource(events);
    source.addEventListener("hello", onHello);
    source.addEventListener("build", onBuild);
    source.addEventListener("failed", onFailed);
    source.onerror = function () {
      // EventSource's own retry has a fixed delay; this one backs off while the watcher is down.
      source.close();
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 5000);
    };
  }

  connect();
})();
