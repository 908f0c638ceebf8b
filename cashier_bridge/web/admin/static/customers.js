// Search as you type on /admin/customers: the REST API's own search, called with this browser's
// back-office sign-in (a GET, so no CSRF header is needed).  Without this script the form still
// works: it submits and the server renders the same results.
(function () {
  "use strict";
  var input = document.getElementById("q");
  var group = document.getElementById("group");
  var rows = document.getElementById("customer-rows");
  var table = document.getElementById("customers");
  var nothing = document.getElementById("nothing");
  var paging = document.getElementById("paging");
  var note = document.getElementById("list-note");
  if (!input || !rows) { return; }
  var original = rows.innerHTML;
  var originalNothing = nothing.textContent;
  var originalHidden = nothing.hidden;
  var originalNote = note.textContent;
  var bulk = table.getAttribute("data-bulk") === "yes";
  var asked = 0;

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text || "";
    return td;
  }

  function render(items, query) {
    rows.textContent = "";
    items.forEach(function (c) {
      var tr = document.createElement("tr");
      if (bulk) {
        var pick = document.createElement("td");
        var box = document.createElement("input");
        box.type = "checkbox"; box.name = "customer"; box.value = String(c.id);
        box.setAttribute("aria-label", "Pick " + c.first_name + " " + c.last_name);
        pick.appendChild(box); tr.appendChild(pick);
      }
      tr.appendChild(cell(c.customer_code));
      var name = document.createElement("td");
      var link = document.createElement("a");
      link.href = "/admin/customers/" + c.id;
      link.textContent = c.first_name + " " + c.last_name;
      name.appendChild(link); tr.appendChild(name);
      tr.appendChild(cell(c.company_name));
      tr.appendChild(cell(c.phone));
      tr.appendChild(cell(c.email));
      tr.appendChild(cell(c.group && c.group.name));
      rows.appendChild(tr);
    });
    nothing.hidden = items.length > 0;
    nothing.textContent = "No customer matches \u201c" + query + "\u201d.";
    if (paging) { paging.hidden = true; }
    note.textContent = "Best matches first (at most 50); sorting applies to the whole list.";
  }

  function search() {
    var query = input.value.trim();
    var mine = ++asked;
    if (!query) {
      rows.innerHTML = original;
      nothing.textContent = originalNothing;
      nothing.hidden = originalHidden;
      note.textContent = originalNote;
      if (paging) { paging.hidden = false; }
      return;
    }
    var url = "/api/v1/customers?limit=50&q=" + encodeURIComponent(query);
    if (group && group.value) { url += "&group_id=" + encodeURIComponent(group.value); }
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) {
        if (r.status === 401) { window.location.href = "/admin/login?next=/admin/customers"; }
        if (!r.ok) { throw new Error(String(r.status)); }
        return r.json();
      })
      .then(function (body) { if (mine === asked) { render(body.items, query); } })
      .catch(function () {
        if (mine === asked) {
          nothing.hidden = false;
          nothing.textContent = "The search did not answer; press Show to search again.";
        }
      });
  }

  input.addEventListener("input", search);
  if (group) { group.addEventListener("change", function () { if (input.value.trim()) { search(); } }); }
})();
