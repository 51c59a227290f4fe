// Adds a progress bar to the upload form. Without JavaScript the form posts normally and works the same.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var group = document.getElementById("progress-group");
  var bar = document.getElementById("progress");
  var text = document.getElementById("progress-text");
  var button = document.getElementById("upload-button");
  var errorBox = document.getElementById("upload-error");
  var errorText = document.getElementById("upload-error-text");

  function showError(message) {
    errorText.textContent = message;
    errorBox.hidden = false;
    errorBox.focus();
    button.disabled = false;
  }

  form.addEventListener("submit", function (event) {
    var input = document.getElementById("file");
    if (!input.files || input.files.length === 0) {
      event.preventDefault();
      showError("Choose the return file, then press Upload and check.");
      return;
    }
    event.preventDefault();
    errorBox.hidden = true;
    button.disabled = true;
    group.hidden = false;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "text/html");
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      var pct = Math.floor(100 * e.loaded / e.total);
      bar.value = pct;
      bar.textContent = pct + "%";
      text.textContent = pct < 100 ? "Uploaded " + pct + "%" : "Uploaded. Checking the file; this can take a minute for a large return.";
    });
    xhr.addEventListener("load", function () {
      if (xhr.status >= 200 && xhr.status < 300 && xhr.responseURL && xhr.responseURL.indexOf("/submissions/") !== -1) {
        window.location.assign(xhr.responseURL);
      } else {
        var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
        var summary = doc.querySelector(".error-summary");
        showError(summary ? summary.textContent.trim() : "The upload did not complete (status " + xhr.status + "). Try again.");
      }
    });
    xhr.addEventListener("error", function () { showError("The connection was lost during the upload. Try again: a file that arrived is not stored twice."); });
    xhr.send(new FormData(form));
  });
}());
