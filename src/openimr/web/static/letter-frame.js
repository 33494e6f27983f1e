// A letter shown in its frame (the letter and notice pages): the frame grows to the letter's height.
(function () {
  var frame = document.getElementById("letter");
  if (!frame) return;
  function fit() {
    try { frame.style.height = frame.contentDocument.documentElement.scrollHeight + 24 + "px"; } catch (e) {}
  }
  frame.addEventListener("load", fit);
  window.addEventListener("resize", fit);
  fit();
})();
