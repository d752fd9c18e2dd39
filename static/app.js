// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Copy to clipboard: <button data-copy="#id"> copies the element's value or text.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy]");
    if (btn) {
      var source = document.querySelector(btn.getAttribute("data-copy"));
      if (!source) return;
      var text = source.dataset.secret || source.value || source.textContent;
      var old = btn.dataset.label || btn.textContent;
      btn.dataset.label = old;
      var report = function (ok) {
        btn.textContent = ok ? "Copied" : "Press Ctrl+C";
        btn.classList.toggle("copy-ok", ok);
        setTimeout(function () { btn.textContent = old; btn.classList.remove("copy-ok"); }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { report(true); }, function () { report(fallbackCopy(text)); });
      } else {
        report(fallbackCopy(text));
      }
      return;
    }

    // The error page's Back button.
    if (ev.target.closest("[data-back]")) {
      history.back();
      return;
    }

    // Dismiss a toast.
    var dismiss = ev.target.closest("[data-dismiss]");
    if (dismiss) {
      var toast = dismiss.closest(".toast");
      if (toast) toast.remove();
      return;
    }

    // Close other open ⋮ menus.
    document.querySelectorAll("details.menu[open]").forEach(function (d) {
      if (!d.contains(ev.target)) d.removeAttribute("open");
    });
  });

  // Destructive plain forms ask first: <form data-confirm="Delete …?">.
  document.addEventListener("submit", function (ev) {
    var form = ev.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
  });

  function fallbackCopy(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "sr-only";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok;
  }

  // Forms marked data-unsaved-warning (the edit sections) ask before their changes are left
  // behind: by a tab or other link, or by closing the page.
  var unsaved = null;
  document.addEventListener("input", function (ev) {
    var form = ev.target.closest && ev.target.closest("form[data-unsaved-warning]");
    if (form) unsaved = form;
  });
  document.addEventListener("change", function (ev) {
    var form = ev.target.closest && ev.target.closest("form[data-unsaved-warning]");
    if (form) unsaved = form;
  });
  document.addEventListener("submit", function (ev) {
    if (!ev.defaultPrevented && ev.target === unsaved) unsaved = null;
  });
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest && ev.target.closest("a[href]");
    if (!unsaved || !link || unsaved.contains(link) || link.hasAttribute("data-copy")) return;
    if (window.confirm("You have unsaved changes in this section. Leave without saving them?")) {
      unsaved = null;
    } else {
      ev.preventDefault();
      ev.stopImmediatePropagation();
    }
  }, true);
  window.addEventListener("beforeunload", function (ev) {
    if (unsaved) { ev.preventDefault(); ev.returnValue = ""; }
  });

  // Self-refreshing figures skip their turn while the page is hidden (another browser tab).
  document.addEventListener("htmx:beforeRequest", function (ev) {
    var elt = ev.detail && ev.detail.elt;
    if (!elt) return;
    if (elt.classList.contains("refresher")) {
      if (document.hidden) ev.preventDefault();
      return;
    }
    // Anything the user asked for replaces the page's content: its flash messages are stale.
    var flashes = document.getElementById("flashes");
    if (flashes) flashes.innerHTML = "";
  });

  // The error page offers Back when there is somewhere to go back to.
  document.addEventListener("DOMContentLoaded", function () {
    if (history.length > 1) {
      document.querySelectorAll("[data-back]").forEach(function (b) { b.hidden = false; });
    }
  });

  // Toasts fade away on their own.
  document.addEventListener("htmx:afterSwap", function () {
    document.querySelectorAll("#toasts .toast:not([data-timer])").forEach(function (t) {
      t.dataset.timer = "1";
      setTimeout(function () { t.remove(); }, 8000);
    });
  });
})();
