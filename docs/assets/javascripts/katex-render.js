// Typesets the maths of every page with the KaTeX copy served by this site (docs/assets/katex),
// so the pages need no network. pymdownx.arithmatex (generic mode, see mkdocs.yml) leaves inline
// maths as <span class="arithmatex">\(...\)</span> and display maths as
// <div class="arithmatex">\[...\]</div>; each such element is replaced by KaTeX's rendering.
// A formula KaTeX cannot parse is shown in red with the error (throwOnError: false), and
// scripts/check_docs_render.py looks for such errors and for leftover delimiters.
(function () {
  "use strict";

  function typeset(root) {
    root.querySelectorAll(".arithmatex").forEach(function (el) {
      var tex = el.textContent.trim();
      var display = tex.startsWith("\\[");
      if (tex.startsWith("\\(") || display) {
        tex = tex.slice(2, -2);
      }
      katex.render(tex, el, { displayMode: display, throwOnError: false });
    });
  }

  if (typeof document$ !== "undefined") {
    // mkdocs-material: also runs after an instant-navigation page change
    document$.subscribe(function () { typeset(document.body); });
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { typeset(document.body); });
  } else {
    typeset(document.body);
  }
})();
