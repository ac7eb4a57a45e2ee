// Passkeys: hand the page's WebAuthn options (made on the server, with a challenge for this
// browser) to the browser, and send its answer back in the page's ordinary form. The server
// checks everything; this file only converts between JSON (base64url) and the browser's
// binary values. Without it the page says passkeys need JavaScript; the e-mail link remains.
(function () {
  "use strict";

  function fromB64url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  function toB64url(buffer) {
    if (!buffer) { return null; }
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return { type: d.type, id: fromB64url(d.id), transports: d.transports };
    });
  }

  function creationOptions(o) {
    o.challenge = fromB64url(o.challenge);
    o.user.id = fromB64url(o.user.id);
    o.excludeCredentials = descriptors(o.excludeCredentials);
    return { publicKey: o };
  }

  function requestOptions(o) {
    o.challenge = fromB64url(o.challenge);
    o.allowCredentials = descriptors(o.allowCredentials);
    return { publicKey: o };
  }

  // The browser's credential as the JSON the server's library reads.
  function asJSON(cred) {
    var r = cred.response;
    var response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      response.userHandle = toB64url(r.userHandle);
    }
    return JSON.stringify({
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type, response: response,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      authenticatorAttachment: cred.authenticatorAttachment || undefined
    });
  }

  function setUp(form) {
    var button = form.querySelector("[data-passkey-start]");
    var note = form.querySelector("[data-passkey-note]");
    var problem = form.querySelector("[data-passkey-problem]");
    var field = form.querySelector("input[name=credential]");
    var creating = form.getAttribute("data-passkey") === "create";

    function say(key) {
      problem.textContent = form.getAttribute("data-" + key);
      problem.hidden = false;
    }

    if (!window.PublicKeyCredential || !navigator.credentials) {
      note.textContent = form.getAttribute("data-unsupported");
      return;
    }
    note.hidden = true;
    button.hidden = false;
    button.addEventListener("click", function () {
      problem.hidden = true;
      button.disabled = true;
      var options = JSON.parse(form.getAttribute("data-options"));
      var asked = creating ? navigator.credentials.create(creationOptions(options))
                           : navigator.credentials.get(requestOptions(options));
      asked.then(function (cred) {
        field.value = asJSON(cred);
        form.submit();
      }).catch(function (err) {
        button.disabled = false;
        var name = err && err.name;
        // NotAllowedError: the person cancelled, or the prompt timed out (browsers do not
        // tell the two apart, on purpose).
        if (name === "NotAllowedError" || name === "AbortError") { say("cancelled"); }
        else if (name === "InvalidStateError") { say("exists"); }
        else if (name === "NotSupportedError") { say("unsupported"); }
        else { say("failed"); }
      });
    });
  }

  var forms = document.querySelectorAll("form[data-passkey]");
  for (var i = 0; i < forms.length; i++) { setUp(forms[i]); }
})();
