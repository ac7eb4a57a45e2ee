// The invitation token arrives in the link's fragment (never sent to a server); copy it into
// the form and send it, then drop it from the address bar.
(function () {
  "use strict";
  var code = document.getElementById("code");
  var form = document.getElementById("invite-form");
  var token = window.location.hash.replace(/^#/, "");
  if (!code || !form || !token || document.querySelector(".alert-error")) { return; }
  code.value = decodeURIComponent(token);
  history.replaceState(null, "", window.location.pathname);
  form.submit();
})();
