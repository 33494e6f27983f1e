// Irreversible actions ask first: a form with data-confirm="…" is sent only once the person
// confirms the words it names (issue the letter, withdraw, assign, reassign, disable an account).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) { return; }
  if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
}, true);
