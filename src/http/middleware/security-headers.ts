/**
 * Security headers on every response (contract §9), errors and 404s included: this is the
 * outermost middleware, so whatever produced the response, they are added on the way out.
 * A header a handler set itself wins (`overwrite: false`): the docs page sends its own CSP
 * (it runs a script), images their own Cross-Origin-Resource-Policy (shown on other sites).
 */
import { secureHeaders } from "hono/secure-headers";

/** An API answer is data, never a document: nothing may load, run or frame it. */
const API_CSP = {
  defaultSrc: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
};

/**
 * The docs page (Swagger UI, served by this Worker): its own scripts and styles, the schema
 * from this origin, nothing else. Swagger UI 5 renders under `style-src 'self'` with no
 * 'unsafe-inline' (React sets styles through the CSSOM, which CSP does not govern): checked
 * in headless Chromium with no violation reported.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

export function securityHeaders() {
  return secureHeaders({
    overwrite: false,
    contentSecurityPolicy: API_CSP,
    xFrameOptions: "DENY",
    referrerPolicy: "no-referrer",
    strictTransportSecurity: "max-age=31536000; includeSubDomains",
    xContentTypeOptions: "nosniff",
    crossOriginResourcePolicy: "same-origin",
  });
}
