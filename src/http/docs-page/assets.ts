/**
 * The API docs page (contract §9: `/api/docs/` works with no internet): Swagger UI from the
 * pinned `swagger-ui-dist` package, served by this Worker. wrangler bundles its script and
 * stylesheet as Text modules (the `[[rules]]` in wrangler.toml; the vitest pool reads the
 * same rules), so `wrangler dev`, the tests and a deploy all serve the same bytes, and no
 * build step copies files around.
 *
 * The page holds no inline script: a small same-origin initializer starts Swagger UI on
 * /api/schema/, so the page runs under `script-src 'self'` (see DOCS_CSP).
 */

import swaggerUiPackage from "swagger-ui-dist/package.json";
import SWAGGER_UI_CSS from "swagger-ui-dist/swagger-ui.css";
import SWAGGER_UI_BUNDLE from "swagger-ui-dist/swagger-ui-bundle.js";

export const SWAGGER_UI_VERSION: string = swaggerUiPackage.version;

export interface DocsAsset {
  path: string;
  body: string;
  contentType: string;
  /** Versioned (the path names the package version): cache it for a year. */
  immutable: boolean;
}

// The vendored files live under the package version, so an upgrade is a new URL and a
// browser never mixes an old cached bundle with a new page.
const VENDOR = `/api/docs/assets/swagger-ui-${SWAGGER_UI_VERSION}`;

export const DOCS_INIT_PATH = "/api/docs/assets/docs-init.js";

/**
 * Starts Swagger UI on the generated schema. `validatorUrl: null` keeps it from asking
 * validator.swagger.io for a badge (the page makes no third-party request); the layout is
 * the base one (no top bar with a URL box: this page documents this API only).
 */
const DOCS_INIT = `"use strict";
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/schema/",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    withCredentials: true,
    tryItOutEnabled: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
`;

export const DOCS_ASSETS: DocsAsset[] = [
  {
    path: `${VENDOR}/swagger-ui-bundle.js`,
    body: SWAGGER_UI_BUNDLE,
    contentType: "text/javascript; charset=utf-8",
    immutable: true,
  },
  {
    path: `${VENDOR}/swagger-ui.css`,
    body: SWAGGER_UI_CSS,
    contentType: "text/css; charset=utf-8",
    immutable: true,
  },
  { path: DOCS_INIT_PATH, body: DOCS_INIT, contentType: "text/javascript; charset=utf-8", immutable: false },
];

export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TicketSafi API</title>
<link rel="stylesheet" href="${VENDOR}/swagger-ui.css">
<script src="${VENDOR}/swagger-ui-bundle.js" defer></script>
<script src="${DOCS_INIT_PATH}" defer></script>
</head>
<body>
<div id="swagger-ui"></div>
<noscript>Swagger UI needs JavaScript. The OpenAPI document is at <a href="/api/schema/">/api/schema/</a>.</noscript>
</body>
</html>
`;
