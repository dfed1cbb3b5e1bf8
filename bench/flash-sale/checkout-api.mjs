/**
 * The two checkout requests every phase makes: a guest's purchase (`POST /api/pay/initiate/`,
 * quantity 1) and Daraja's success callback for its STK push, and what a purchase's answer
 * means.
 */
import { receiptNumber, successCallback } from "../fake-daraja.mjs";
import { requestJson } from "../http-json.mjs";

/** One purchase of one seat on `tierId` by buyer `b` (bench/flash-sale-data.mjs). */
export function initiate(agent, server, tierId, b) {
  return requestJson(agent, {
    method: "POST",
    url: `${server.baseUrl}/api/pay/initiate/`,
    body: { tier_id: tierId, phone_number: b.phone, quantity: 1, email: b.email, name: b.name },
  });
}

/** 202 = accepted, 409 `sold_out` = sold out, anything else = error. */
export function classify(result) {
  if (result.status === 202 && result.json?.order_id && result.json?.checkout_request_id) return "accepted";
  if (result.status === 409 && result.json?.code === "sold_out") return "soldOut";
  return "error";
}

/** Daraja's success callback for `push` to its CallBackURL, with receipt `receiptNumber(index, salt)`. */
export function sendCallback(agent, push, index, salt) {
  return requestJson(agent, {
    method: "POST",
    url: push.callbackUrl,
    body: successCallback(push, receiptNumber(index, salt)),
  });
}

/** One purchase on `tierId`, and the STK push it made at the fake Daraja when accepted. */
export async function purchaseWithPush(agent, server, tierId, daraja, b) {
  const r = await initiate(agent, server, tierId, b);
  const push = classify(r) === "accepted" ? daraja.state.pushesByPhone.get(b.normalizedPhone) : undefined;
  return { r, push };
}
