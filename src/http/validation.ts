/**
 * zod → DRF. A failed parse becomes `{"field": ["message", ...]}` with the messages DRF
 * clients already show; a problem with the object as a whole goes to `non_field_errors`.
 */
import { z } from "@hono/zod-openapi";
import { DomainError, type FieldErrors } from "../lib/errors";

type Issue = z.core.$ZodIssue;

const TYPE_MESSAGES: Record<string, string> = {
  string: "Not a valid string.",
  number: "A valid number is required.",
  int: "A valid integer is required.",
  boolean: "Must be a valid boolean.",
  object: "Invalid data. Expected a dictionary.",
  array: "Expected a list of items.",
  date: "Datetime has wrong format.",
};

/**
 * Default messages, in DRF's words. Schemas override them with their own `error`, which
 * zod gives precedence over this global map.
 */
function drfMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "This field is required.";
      if (issue.input === null) return "This field may not be null.";
      return TYPE_MESSAGES[issue.expected] ?? "Invalid value.";
    case "too_small":
      if (issue.origin === "string") {
        return Number(issue.minimum) <= 1
          ? "This field may not be blank."
          : `Ensure this field has at least ${issue.minimum} characters.`;
      }
      if (issue.origin === "array") return `Ensure this field has at least ${issue.minimum} elements.`;
      return `Ensure this value is greater than or equal to ${issue.minimum}.`;
    case "too_big":
      if (issue.origin === "string") return `Ensure this field has no more than ${issue.maximum} characters.`;
      if (issue.origin === "array") return `Ensure this field has no more than ${issue.maximum} elements.`;
      return `Ensure this value is less than or equal to ${issue.maximum}.`;
    case "invalid_value":
      return `"${String(issue.input)}" is not a valid choice.`;
    case "invalid_format":
      if (issue.format === "email") return "Enter a valid email address.";
      if (issue.format === "url") return "Enter a valid URL.";
      if (issue.format === "uuid") return "Must be a valid UUID.";
      return "Invalid value.";
    case "unrecognized_keys":
      return `Unknown field(s): ${issue.keys.join(", ")}.`;
    default:
      return undefined;
  }
}

let configured = false;
/** Installs the DRF-style messages once per isolate. */
export function installValidationMessages(): void {
  if (configured) return;
  z.config({ customError: drfMessage });
  configured = true;
}
installValidationMessages();

/** DRF field errors from zod issues: the first path segment names the field. */
export function issuesToFieldErrors(issues: readonly Issue[]): FieldErrors {
  const fields: FieldErrors = {};
  for (const issue of issues) {
    const [head, ...rest] = issue.path;
    const key = head === undefined ? "non_field_errors" : String(head);
    const where = rest.length > 0 ? `${rest.map(String).join(".")}: ` : "";
    const list = fields[key] ?? [];
    list.push(`${where}${issue.message}`);
    fields[key] = list;
  }
  return fields;
}

/** Parse or throw the contract's 400. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw DomainError.validation(issuesToFieldErrors(result.error.issues));
  return result.data;
}
