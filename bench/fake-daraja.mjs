/**
 * A local fake Safaricom Daraja for the flash-sale benchmark: a small node:http server that
 * speaks Daraja's wire format (../shared/docs/upstreams.md) and records what it was asked.
 *
 *   GET  /oauth/v1/generate?grant_type=client_credentials  (Basic key:secret)
 *        → {"access_token", "expires_in": "3599"}
 *   POST /mpesa/stkpush/v1/processrequest                  (Bearer token)
 *        → {"MerchantRequestID", "CheckoutRequestID" (unique), "ResponseCode": "0", …}
 *   POST /mpesa/stkpushquery/v1/query
 *        → 500 {"errorCode": "500.001.1001", "errorMessage": "The transaction is being processed"}
 *
 * A push is checked the way Daraja would check it (bearer token, shortcode, Password =
 * base64(shortcode + passkey + Timestamp), Timestamp in Nairobi time, whole Amount, phone
 * 2547…/2541…, AccountReference ≤ 12, TransactionDesc ≤ 13); a bad one is refused with
 * Daraja's 400 error body and counted in `rejected`, so the benchmark notices.
 *
 * Every accepted push is kept with its timing on this process's `performance.now()` clock
 * (the load generator runs in the same process), which splits an accepted purchase into
 * "before the push", "at Daraja" and "after the push" without touching the Worker.
 */
import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import { performance } from "node:perf_hooks";

const NAIROBI_OFFSET_MS = 3 * 3_600_000;

/** `YYYYMMDDHHmmss` in Nairobi time (UTC+3, no DST). */
export function nairobiTimestamp(ms = Date.now()) {
  return new Date(ms + NAIROBI_OFFSET_MS).toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

function timestampToMs(ts) {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(ts ?? "");
  if (!m) return Number.NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) - NAIROBI_OFFSET_MS;
}

function darajaError(errorCode, errorMessage) {
  return {
    requestId: `${Math.floor(Math.random() * 1e5)}-${Math.floor(Math.random() * 1e8)}-1`,
    errorCode,
    errorMessage,
  };
}

/**
 * @param {{ shortcode: string, passkey: string, consumerKey: string, consumerSecret: string }} options
 */
export async function startFakeDaraja({ shortcode, passkey, consumerKey, consumerSecret }) {
  const tokens = new Set();
  const state = {
    oauthCalls: 0,
    queryCalls: 0,
    /** @type {Array<{checkoutRequestId: string, merchantRequestId: string, amount: number, phoneNumber: string, accountReference: string, callbackUrl: string, receivedAt: number, answeredAt: number}>} */
    pushes: [],
    pushesByPhone: new Map(),
    pushesById: new Map(),
    /** @type {Array<{status: number, body: unknown, problem: string}>} */
    rejected: [],
  };
  let sequence = 0;

  const send = (response, status, body) => {
    const text = JSON.stringify(body);
    response.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
    });
    response.end(text);
  };

  function checkPush(body) {
    if (!body || typeof body !== "object") return "body is not a JSON object";
    if (body.BusinessShortCode !== shortcode) return `BusinessShortCode ${body.BusinessShortCode}`;
    const stampMs = timestampToMs(body.Timestamp);
    if (!Number.isFinite(stampMs) || Math.abs(stampMs - Date.now()) > 120_000)
      return `Timestamp ${body.Timestamp} is not Nairobi time now`;
    const password = Buffer.from(`${shortcode}${passkey}${body.Timestamp}`).toString("base64");
    if (body.Password !== password) return "Password is not base64(shortcode + passkey + timestamp)";
    if (body.TransactionType !== "CustomerPayBillOnline" && body.TransactionType !== "CustomerBuyGoodsOnline")
      return `TransactionType ${body.TransactionType}`;
    if (!Number.isInteger(body.Amount) || body.Amount < 1) return `Amount ${body.Amount}`;
    if (!/^254[17]\d{8}$/.test(String(body.PhoneNumber ?? ""))) return `PhoneNumber ${body.PhoneNumber}`;
    if (body.PartyA !== body.PhoneNumber) return "PartyA differs from PhoneNumber";
    if (typeof body.CallBackURL !== "string" || !/^https?:\/\//.test(body.CallBackURL))
      return `CallBackURL ${body.CallBackURL}`;
    if (typeof body.AccountReference !== "string" || body.AccountReference.length > 12)
      return `AccountReference ${body.AccountReference}`;
    if (typeof body.TransactionDesc !== "string" || body.TransactionDesc.length > 13)
      return `TransactionDesc ${body.TransactionDesc}`;
    return undefined;
  }

  const server = http.createServer((request, response) => {
    const receivedAt = performance.now();
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://daraja.local");
      const auth = request.headers.authorization ?? "";

      if (request.method === "GET" && url.pathname === "/oauth/v1/generate") {
        state.oauthCalls++;
        const expected = `Basic ${Buffer.from(`${consumerKey}:${consumerSecret}`).toString("base64")}`;
        if (auth !== expected || url.searchParams.get("grant_type") !== "client_credentials") {
          send(response, 400, darajaError("400.008.01", "Invalid Authentication passed"));
          return;
        }
        const token = randomBytes(21).toString("base64url");
        tokens.add(token);
        send(response, 200, { access_token: token, expires_in: "3599" });
        return;
      }

      if (request.method !== "POST") {
        send(response, 404, darajaError("404.001.01", "Resource not found"));
        return;
      }
      if (!tokens.has(auth.replace(/^Bearer /, ""))) {
        send(response, 401, darajaError("404.001.03", "Invalid Access Token"));
        return;
      }
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        send(response, 400, darajaError("400.002.02", "Bad Request - Invalid JSON"));
        return;
      }

      if (url.pathname === "/mpesa/stkpush/v1/processrequest") {
        const problem = checkPush(body);
        if (problem) {
          state.rejected.push({ status: 400, body, problem });
          send(response, 400, darajaError("400.002.02", `Bad Request - ${problem}`));
          return;
        }
        sequence++;
        const checkoutRequestId = `ws_CO_${nairobiTimestamp().slice(6)}${String(sequence).padStart(6, "0")}${randomUUID().slice(0, 4)}`;
        const merchantRequestId = `${10000 + (sequence % 90000)}-${Math.floor(Math.random() * 1e8)}-1`;
        const push = {
          checkoutRequestId,
          merchantRequestId,
          amount: body.Amount,
          phoneNumber: String(body.PhoneNumber),
          accountReference: body.AccountReference,
          callbackUrl: body.CallBackURL,
          receivedAt,
          answeredAt: performance.now(),
        };
        state.pushes.push(push);
        state.pushesByPhone.set(push.phoneNumber, push);
        state.pushesById.set(checkoutRequestId, push);
        send(response, 200, {
          MerchantRequestID: merchantRequestId,
          CheckoutRequestID: checkoutRequestId,
          ResponseCode: "0",
          ResponseDescription: "Success. Request accepted for processing",
          CustomerMessage: "Success. Request accepted for processing",
        });
        return;
      }

      if (url.pathname === "/mpesa/stkpushquery/v1/query") {
        state.queryCalls++;
        send(response, 500, darajaError("500.001.1001", "The transaction is being processed"));
        return;
      }
      send(response, 404, darajaError("404.001.01", "Resource not found"));
    });
  });
  server.keepAliveTimeout = 30_000;

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    state,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}

/**
 * The success callback Daraja would POST for a push (`Body.stkCallback`, upstreams.md):
 * ResultCode 0 with Amount, a unique MpesaReceiptNumber, Balance (no Value),
 * TransactionDate and PhoneNumber (numbers, as Daraja sends them).
 */
export function successCallback(push, receipt, now = Date.now()) {
  return {
    Body: {
      stkCallback: {
        MerchantRequestID: push.merchantRequestId,
        CheckoutRequestID: push.checkoutRequestId,
        ResultCode: 0,
        ResultDesc: "The service request is processed successfully.",
        CallbackMetadata: {
          Item: [
            { Name: "Amount", Value: push.amount },
            { Name: "MpesaReceiptNumber", Value: receipt },
            { Name: "Balance" },
            { Name: "TransactionDate", Value: Number(nairobiTimestamp(now)) },
            { Name: "PhoneNumber", Value: Number(push.phoneNumber) },
          ],
        },
      },
    },
  };
}

const RECEIPT_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** `TKR` + 7 characters, unique per index within a run (M-Pesa receipts are 10 characters). */
export function receiptNumber(index, salt) {
  let n = index + salt * 1_000_000;
  let out = "";
  for (let i = 0; i < 7; i++) {
    out = RECEIPT_ALPHABET[n % 36] + out;
    n = Math.floor(n / 36);
  }
  return `TKR${out}`;
}
