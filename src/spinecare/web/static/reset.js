// The reset code arrives in the link's fragment (never sent to a server); copy it into the
// form and drop it from the address bar. The form waits for the new password.
(function () {
  "use strict";
  var field = document.getElementById("token");
  var code = window.location.hash.replace(/^#/, "");
  if (!field || !code || field.value) { return; }
  field.value = decodeURIComponent(code);
  history.replaceState(null, "", window.location.pathname);
})();
