// Assay console: small progressive enhancements. Every page works without this file, except
// file uploads (drag and drop or the file picker), which need it.
(function () {
  "use strict";

  // Forms that ask before doing something that cannot be undone.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  // Uploads: each file is POSTed as the raw request body with the session's CSRF token.
  document.querySelectorAll(".dropzone").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]");
    var list = zone.querySelector(".upload-list");
    var target = zone.getAttribute("data-upload-url");
    var csrf = zone.getAttribute("data-csrf");
    var maxBytes = parseInt(zone.getAttribute("data-max-mb"), 10) * 1024 * 1024;

    function line(text, kind) {
      var item = document.createElement("li");
      item.textContent = text;
      if (kind) item.className = kind;
      list.appendChild(item);
      return item;
    }

    function send(file) {
      return new Promise(function (resolve) {
        var item = line(file.name + ": uploading…");
        if (file.size > maxBytes) {
          item.textContent = file.name + ": too large (limit " + zone.getAttribute("data-max-mb") + " MB)";
          item.className = "error";
          return resolve(false);
        }
        var request = new XMLHttpRequest();
        request.open("POST", target);
        request.setRequestHeader("X-CSRF-Token", csrf);
        request.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
        request.setRequestHeader("Content-Type", "application/octet-stream");
        request.upload.addEventListener("progress", function (event) {
          if (event.lengthComputable) {
            item.textContent = file.name + ": " + Math.round(100 * event.loaded / event.total) + "%";
          }
        });
        request.addEventListener("load", function () {
          var body = {};
          try { body = JSON.parse(request.responseText); } catch (e) { body = {}; }
          var ok = request.status >= 200 && request.status < 300;
          item.textContent = file.name + ": " + (body.message || (ok ? "added" : "failed (" + request.status + ")"));
          item.className = ok ? "ok" : "error";
          resolve(ok);
        });
        request.addEventListener("error", function () {
          item.textContent = file.name + ": the upload failed (network)";
          item.className = "error";
          resolve(false);
        });
        request.send(file);
      });
    }

    function upload(files) {
      var chain = Promise.resolve(true), all = true;
      Array.prototype.forEach.call(files, function (file) {
        chain = chain.then(function () { return send(file); }).then(function (ok) { all = all && ok; });
      });
      chain.then(function () {
        if (all && files.length) {
          line("Done. Reloading…", "ok");
          window.location.hash = "evidence";
          window.location.reload();
        }
      });
    }

    input.addEventListener("change", function () { upload(input.files); });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.remove("over");
      });
    });
    zone.addEventListener("drop", function (event) {
      if (event.dataTransfer && event.dataTransfer.files.length) upload(event.dataTransfer.files);
    });
  });
})();

// Pages showing a build in progress reload themselves until it is done.
(function () {
  "use strict";
  var region = document.querySelector("[data-refresh]");
  if (!region) return;
  var seconds = parseInt(region.getAttribute("data-refresh"), 10) || 4;
  window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
})();

// A running collection's progress, polled without reloading the page.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box) return;
  var url = box.getAttribute("data-progress-url");
  var every = (parseInt(box.getAttribute("data-progress-every"), 10) || 2) * 1000;
  function set(name, value) {
    var el = box.querySelector("[data-field=" + name + "]");
    if (el) el.textContent = String(value);
  }
  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) throw new Error("progress " + response.status);
        return response.json();
      })
      .then(function (p) {
        var finished = p.done + p.failed;
        set("done", p.done); set("failed", p.failed); set("total", p.total);
        set("queued", p.queued); set("running", p.running); set("errors", p.errorCount);
        set("status", p.status ? p.status.toLowerCase() : "no run yet");
        var bar = box.querySelector("progress");
        if (bar) { bar.max = Math.max(1, p.total); bar.value = finished; }
        var list = box.querySelector("[data-field=error-list]");
        if (list) {
          list.textContent = "";
          p.errors.slice(-5).forEach(function (e) {
            var item = document.createElement("li");
            item.textContent = e.error_code + " in " + e.account + "/" + e.region + " (" +
              e.keyword + "): " + e.message;
            list.appendChild(item);
          });
        }
        box.setAttribute("data-status", p.status || "");
        if (p.status === "RUNNING") window.setTimeout(poll, every);
      })
      .catch(function () { window.setTimeout(poll, every * 3); });
  }
  poll();
})();
