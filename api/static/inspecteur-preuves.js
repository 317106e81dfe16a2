// Evidence upload for the inspector's checklist: ask the page for a presigned S3 POST (type and 1 B–10 MB in
// its signed policy), send the file straight to S3, then keep its key in a hidden field submitted with the
// checklist. The server checks the file's bytes and size again when the checklist is submitted.
(function () {
  "use strict";
  var form = document.getElementById("grille");
  if (!form) { return; }
  var maxBytes = Number(form.dataset.maxBytes);
  var types = { "image/jpeg": true, "image/png": true, "application/pdf": true };
  var csrf = form.querySelector("input[name=csrf]").value;
  var pending = 0;

  function showError(input, message) {
    var p = document.getElementById(input.id + "-erreur");
    p.textContent = message;
    p.hidden = !message;
    var field = input.closest(".field");
    if (message) {
      input.setAttribute("aria-invalid", "true");
      field.classList.add("field-invalid");
    } else {
      input.removeAttribute("aria-invalid");
      field.classList.remove("field-invalid");
    }
  }

  function addFile(input, code, key, name) {
    var li = document.createElement("li");
    li.textContent = name + " — fichier reçu";
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "evidence_" + code;
    hidden.value = key;
    li.appendChild(hidden);
    document.getElementById(input.id + "-fichiers").appendChild(li);
  }

  async function upload(input) {
    var file = input.files && input.files[0];
    if (!file) { return; }
    var code = input.dataset.preuve;
    if (!types[file.type]) {
      showError(input, "Format refusé : choisissez une photo JPEG ou PNG, ou un PDF.");
      return;
    }
    if (file.size === 0) {
      showError(input, "Fichier vide : choisissez une photo ou un document qui contient quelque chose.");
      return;
    }
    if (file.size > maxBytes) {
      showError(input, "Fichier trop volumineux (" + Math.round(maxBytes / 1048576) + " Mo au plus).");
      return;
    }
    showError(input, "");
    pending += 1;
    input.setAttribute("aria-busy", "true");
    try {
      var answer = await fetch(form.dataset.preuvesUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ criterion_code: code, filename: file.name, content_type: file.type, size_bytes: file.size })
      });
      var grant = await answer.json();
      if (!answer.ok) {
        showError(input, grant.message || "Dépôt impossible : réessayez.");
        return;
      }
      var data = new FormData();
      Object.keys(grant.fields).forEach(function (name) { data.append(name, grant.fields[name]); });
      data.append("file", file);  // S3 reads the policy's fields first: the file comes last
      var sent = await fetch(grant.upload_url, { method: grant.method, body: data });
      if (!sent.ok) {
        showError(input, "Le fichier n'a pas pu être envoyé : réessayez.");
        return;
      }
      addFile(input, code, grant.key, grant.name);
      input.value = "";
    } catch (err) {
      showError(input, "Connexion impossible : vérifiez le réseau et réessayez.");
    } finally {
      pending -= 1;
      input.removeAttribute("aria-busy");
    }
  }

  form.querySelectorAll("input[type=file][data-preuve]").forEach(function (input) {
    input.addEventListener("change", function () { upload(input); });
  });
  form.addEventListener("submit", function (event) {
    if (pending > 0) {
      event.preventDefault();
      window.alert("Un fichier est en cours d'envoi : patientez quelques secondes.");
    }
  });
})();
