// MathJax for the formulas that pymdownx.arithmatex (generic mode) wraps in .arithmatex elements.
//
// mathjax/tex-svg.js is the site's own copy of MathJax 3.2.2 (es5/tex-svg.js of the npm package
// mathjax@3.2.2, Apache-2.0, mathjax/LICENSE), so that the pages render their math offline, opened
// from their files. The SVG output draws every glyph itself: no font file to load, which a browser
// may refuse from a file:// page. Nothing else of MathJax is shipped, so nothing may be loaded on
// demand: TeX's autoload and require are off (a formula must keep to the base and AMS macros) and
// so is the context menu, whose renderers and explorers are separate files.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    packages: { "[-]": ["autoload", "require"] },
  },
  svg: { fontCache: "global" },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
    enableMenu: false,
  },
};
