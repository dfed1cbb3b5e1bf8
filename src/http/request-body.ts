/**
 * Reads a request body the way DRF's default parsers do (JSON, form, multipart), with a
 * size limit enforced while streaming, so a 1 GB upload is refused after the limit rather
 * than buffered. Anything else is a 415; broken JSON is a 400, never a 500.
 */
import { DomainError } from "../lib/errors";

export type BodyValue = string | File | Array<string | File>;
export type ParsedBody = Record<string, unknown>;

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

function tooLarge(limit: number): DomainError {
  return new DomainError("payload_too_large", `Request body too large. The limit is ${limit} bytes.`);
}

/** Buffer the body, stopping as soon as it passes `limit` bytes. */
async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function mediaType(request: Request): string {
  return (request.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

function formToObject(form: FormData): ParsedBody {
  const out: Record<string, BodyValue> = {};
  for (const [key, value] of form.entries()) {
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  }
  return out;
}

export interface ReadBodyOptions {
  maxBytes?: number;
  /** Which kinds this route accepts; JSON always. */
  allowForm?: boolean;
}

export async function readRequestBody(request: Request, options: ReadBodyOptions = {}): Promise<ParsedBody> {
  const limit = options.maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  const type = mediaType(request);
  const bytes = await readLimited(request, limit);
  if (bytes.byteLength === 0) return {};

  if (type === "application/json" || type.endsWith("+json") || type === "") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes));
    } catch (error) {
      const reason = error instanceof Error ? error.message : "invalid JSON";
      throw new DomainError("parse_error", `JSON parse error - ${reason}`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      const got = Array.isArray(parsed) ? "list" : parsed === null ? "null" : typeof parsed;
      throw DomainError.nonField(`Invalid data. Expected a dictionary, but got ${got}.`);
    }
    return parsed as ParsedBody;
  }

  if (
    options.allowForm !== false &&
    (type === "multipart/form-data" || type === "application/x-www-form-urlencoded")
  ) {
    try {
      const form = await new Response(bytes, {
        headers: { "content-type": request.headers.get("content-type") ?? type },
      }).formData();
      return formToObject(form);
    } catch {
      throw new DomainError("parse_error", "Multipart form parse error - Invalid boundary in multipart.");
    }
  }

  throw new DomainError("unsupported_media_type", `Unsupported media type "${type}" in request.`);
}
