/** Structured logs: one JSON object per line, so Workers Logs can index the fields. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function createLogger(base: Record<string, unknown> = {}): Logger {
  const write = (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => {
    const line = JSON.stringify({ level, message, ...base, ...fields });
    if (level === "error") console.error(line);
    else if (level === "warn") console.warn(line);
    else console.log(line);
  };
  return {
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}

/** Serialise an unknown thrown value for a log line, without leaking it to clients. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error)
    return { error_name: error.name, error_message: error.message, stack: error.stack };
  return { error_message: String(error) };
}
