/**
 * The offline API docs page (contract §9: `/api/docs/` works with no internet). No CDN and
 * no bundled Swagger UI is available to us, so this is a small page of our own: the HTML
 * loads one script and one stylesheet from this Worker, and the script reads /api/schema/
 * and lists every operation. Everything is built with DOM calls and textContent, so nothing
 * from the schema is ever parsed as HTML, and the page runs under `script-src 'self'`.
 */

export const DOCS_SCRIPT_PATH = "/api/docs/assets/docs.js";
export const DOCS_STYLE_PATH = "/api/docs/assets/docs.css";

export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TicketSafi API</title>
<link rel="stylesheet" href="${DOCS_STYLE_PATH}">
<script src="${DOCS_SCRIPT_PATH}" defer></script>
</head>
<body>
<header><h1>TicketSafi API</h1><p>Generated from <a href="/api/schema/">/api/schema/</a> (OpenAPI 3.1).</p></header>
<main id="operations"><p>Loading…</p></main>
</body>
</html>
`;

export const DOCS_CSS = `body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:960px;padding:1rem;color:#1b1b1b}
h1{margin:.2rem 0}h2{border-bottom:1px solid #ddd;margin-top:2rem}
details{border:1px solid #ddd;border-radius:6px;margin:.4rem 0;padding:.4rem .6rem}
summary{cursor:pointer}.method{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}
.get{color:#0a6}.post{color:#06c}.put,.patch{color:#a60}.delete{color:#c00}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f6f6f6;padding:.5rem;overflow:auto}
.lock{color:#777;font-size:12px;margin-left:.5rem}
`;

export const DOCS_JS = `"use strict";
(function () {
  var METHODS = ["get", "post", "put", "patch", "delete"];
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  function json(value) { return el("pre", {}, [JSON.stringify(value, null, 2)]); }
  function operation(path, method, op) {
    var secured = Array.isArray(op.security) && op.security.some(function (s) { return Object.keys(s).length > 0; });
    var head = el("summary", {}, [
      el("span", { class: "method " + method }, [method]),
      el("code", {}, [path]), " ", op.summary || "",
      secured ? el("span", { class: "lock" }, ["auth"]) : "",
    ]);
    var body = [head];
    if (op.operationId) body.push(el("p", {}, ["operationId: ", el("code", {}, [op.operationId])]));
    if (op.description) body.push(el("p", {}, [op.description]));
    if (op.parameters && op.parameters.length) { body.push(el("h4", {}, ["Parameters"])); body.push(json(op.parameters)); }
    if (op.requestBody) { body.push(el("h4", {}, ["Request body"])); body.push(json(op.requestBody)); }
    if (op.responses) { body.push(el("h4", {}, ["Responses"])); body.push(json(op.responses)); }
    return el("details", { id: op.operationId || method + path }, body);
  }
  function render(doc) {
    var byTag = {};
    Object.keys(doc.paths || {}).forEach(function (path) {
      METHODS.forEach(function (method) {
        var op = doc.paths[path][method];
        if (!op) return;
        var tag = (op.tags && op.tags[0]) || "Other";
        (byTag[tag] = byTag[tag] || []).push(operation(path, method, op));
      });
    });
    var main = document.getElementById("operations");
    main.textContent = "";
    Object.keys(byTag).sort().forEach(function (tag) {
      main.appendChild(el("h2", {}, [tag]));
      byTag[tag].forEach(function (node) { main.appendChild(node); });
    });
    if (doc.components && doc.components.schemas) {
      main.appendChild(el("h2", {}, ["Schemas"]));
      Object.keys(doc.components.schemas).sort().forEach(function (name) {
        main.appendChild(el("details", { id: "schema-" + name }, [el("summary", {}, [name]), json(doc.components.schemas[name])]));
      });
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    fetch("/api/schema/", { headers: { accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(render)
      .catch(function (e) { document.getElementById("operations").textContent = "Could not load /api/schema/: " + e.message; });
  });
})();
`;
