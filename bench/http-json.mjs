/**
 * JSON requests for the benchmarks, with node:http over keep-alive connections (no
 * dependencies), and a bounded pool that runs `total` tasks with `concurrency` in flight
 * (closed loop: each worker starts its next task as soon as the previous one finished).
 * Times are on this process's `performance.now()` clock, from just before the request is
 * written to the last byte of the answer.
 */
import http from "node:http";
import { performance } from "node:perf_hooks";

export function keepAliveAgent(concurrency) {
  return new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
}

/**
 * @param {http.Agent} agent
 * @param {{ method?: string, url: string, body?: unknown, headers?: Record<string, string>, timeoutMs?: number }} options
 * @returns {Promise<{ status: number, text: string, json: any, headers?: import("node:http").IncomingHttpHeaders, startedAt: number, endedAt: number, ms: number, error?: string }>}
 */
export function requestJson(agent, { method = "GET", url, body, headers = {}, timeoutMs = 30_000 }) {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const startedAt = performance.now();
  return new Promise((resolve) => {
    const done = (result) => {
      const endedAt = performance.now();
      resolve({ ...result, startedAt, endedAt, ms: endedAt - startedAt });
    };
    const request = http.request(
      url,
      {
        method,
        agent,
        timeout: timeoutMs,
        headers: {
          accept: "application/json",
          ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}),
          ...headers,
        },
      },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          done({ status: response.statusCode ?? 0, text, json, headers: response.headers });
        });
        response.on("error", (error) => done({ status: 0, text: "", json: undefined, error: error.message }));
      },
    );
    request.on("timeout", () => request.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    request.on("error", (error) =>
      done({ status: 0, text: "", json: undefined, error: error.code ?? error.message }),
    );
    request.end(payload);
  });
}

/**
 * Runs `task(i)` for i = 0 … total-1 with at most `concurrency` running; resolves with the
 * results in index order and the wall time.
 */
export async function pool(total, concurrency, task) {
  const results = new Array(total);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < total; i = next++) results[i] = await task(i);
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return { results, seconds: (performance.now() - started) / 1000, startedAt: started };
}
