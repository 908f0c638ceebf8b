// A code that came in the printed link is sent at once, so opening the link signs in.  The GET
// itself never spends it (link previewers fetch pages); a page that is refused does not retry.
"use strict";
const form = document.getElementById("sign-in");
if (form && form.dataset.auto === "1") {
  form.requestSubmit();
}
