// The sign-in code arrives in the link's fragment (never sent to a server); copy it into the
// form and send it, then drop it from the address bar (and so from the history).
(function () {
  "use strict";
  var code = document.getElementById("code");
  var form = document.getElementById("signin-link-form");
  var token = window.location.hash.replace(/^#/, "");
  if (!code || !form || !token || document.querySelector(".alert-error")) { return; }
  code.value = decodeURIComponent(token);
  history.replaceState(null, "", window.location.pathname);
  form.submit();
})();
