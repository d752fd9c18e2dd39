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

    // Reveal / hide a masked secret: <button data-reveal="#id">.
    var reveal = ev.target.closest("[data-reveal]");
    if (reveal) {
      ev.preventDefault();
      var el = document.querySelector(reveal.getAttribute("data-reveal"));
      if (!el) return;
      var shown = el.dataset.shown === "1";
      el.textContent = shown ? el.dataset.masked : el.dataset.secret;
      el.dataset.shown = shown ? "0" : "1";
      reveal.textContent = shown ? "Show" : "Hide";
      reveal.setAttribute("aria-pressed", shown ? "false" : "true");
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

  // Toasts fade away on their own.
  document.addEventListener("htmx:afterSwap", function () {
    document.querySelectorAll("#toasts .toast:not([data-timer])").forEach(function (t) {
      t.dataset.timer = "1";
      setTimeout(function () { t.remove(); }, 8000);
    });
  });
})();
