/** The answers of `/api/auth/` (contract §2): sign-in, registration, activation, refresh. */
import { z } from "@hono/zod-openapi";
import { UserSchema } from "./user";

export const RegistrationResponse = z.object({ user: UserSchema }).openapi("RegistrationResponse");
export const CheckCodeResponse = z.object({ valid: z.literal(true) }).openapi("CheckCodeResponse");
export const ActivationResponse = z
  .object({ message: z.literal("Account activated"), user: UserSchema })
  .openapi("ActivationResponse");
/** The access token for Bearer clients; `refresh` is "" because the refresh token stays in its cookie. */
export const LoginResponse = z
  .object({ access: z.string(), refresh: z.string(), user: UserSchema })
  .openapi("LoginResponse");
/** `refresh` is the new refresh token only for a client that sent its token in the body, else "". */
export const RefreshResponse = z
  .object({ access: z.string(), refresh: z.string() })
  .openapi("RefreshResponse");
export const DetailMessage = z.object({ detail: z.string() }).openapi("DetailMessage");
