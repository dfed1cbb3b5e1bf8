/**
 * `/api/auth/` (contract §2): thin handlers over services/accounts/* and services/sessions.
 * Each parses its input, calls one use case, and shapes the answer; session cookies are
 * set or cleared here with exactly what the session service returns.
 */
import { z } from "@hono/zod-openapi";
import type { User } from "../../db/schema";
import { DomainError } from "../../lib/errors";
import { activate } from "../../services/accounts/activation";
import { signInWithGoogle } from "../../services/accounts/google-sign-in";
import { checkInvitationCode } from "../../services/accounts/invitation-guesses";
import { login } from "../../services/accounts/login";
import { confirmPasswordReset, requestPasswordReset } from "../../services/accounts/password-reset";
import { updateProfile } from "../../services/accounts/profile";
import { ACCOUNT_EXISTS_NEEDS_ACTIVATION, register } from "../../services/accounts/registration";
import { type IssuedTokens, logout, renewSession, type SessionMeta } from "../../services/sessions";
import { clientAddress } from "../client-address";
import {
  bearerToken,
  clearClaimCookie,
  clearSessionCookies,
  readClaimCookie,
  readSessionCookies,
  setClaimCookie,
  setSessionCookies,
} from "../cookies";
import { emptyToUndefined, Username } from "../fields";
import { type Api, type AppContext, defineRoute } from "../route";
import { parseOrThrow } from "../validation";
import {
  ActivationResponse,
  CheckCodeResponse,
  DetailMessage,
  LoginResponse,
  RefreshResponse,
  RegistrationResponse,
} from "../views/session";
import { toUserResponse, UserSchema } from "../views/user";

const TAGS = ["Auth"];

// ---------------------------------------------------------------------------------------
// Schemas (request validation and the OpenAPI document share them)
// ---------------------------------------------------------------------------------------

const Email = z.string().trim().max(254).pipe(z.email());
const Password = z.string().min(1).max(4096);
const SignupRole = z.preprocess(emptyToUndefined, z.enum(["ATTENDEE", "ORGANIZER"]).default("ATTENDEE"));
const OptionalCode = z.preprocess(emptyToUndefined, z.string().trim().max(64).optional());

const RegistrationBody = z
  .object({
    username: Username,
    email: Email,
    password: Password.optional(),
    password1: Password.optional(),
    password2: Password.optional(),
    role: SignupRole,
    invitation_code: OptionalCode,
  })
  // `when`: a missing password is reported alongside the other field errors, as DRF does.
  .refine((body) => body?.password !== undefined || body?.password1 !== undefined, {
    path: ["password"],
    message: "This field is required.",
    when: () => true,
  })
  .refine((body) => body.password2 === undefined || body.password2 === (body.password ?? body.password1), {
    path: [],
    message: "The two password fields didn't match.",
  })
  .openapi("RegistrationRequest");

const LoginBody = z
  .object({
    username: z.preprocess(emptyToUndefined, z.string().trim().max(254).optional()),
    email: z.preprocess(emptyToUndefined, z.string().trim().max(254).optional()),
    password: Password,
  })
  .superRefine((body, ctx) => {
    if (!body.username && !body.email) {
      ctx.addIssue({ code: "custom", path: [], message: 'Must include "username" and "password".' });
    }
  })
  .openapi("LoginRequest");

const CheckCodeBody = z.object({ code: z.string().trim().min(1).max(64) }).openapi("CheckCodeRequest");
const ActivateBody = z
  .object({ uid: z.string().trim().min(1).max(200), token: z.string().trim().min(1).max(200) })
  .openapi("ActivateRequest");
const RefreshBody = z.object({ refresh: z.string().max(4096).optional() }).openapi("RefreshRequest");
const UserPatchBody = z
  .object({
    first_name: z.string().trim().max(150).optional(),
    last_name: z.string().trim().max(150).optional(),
    username: Username.optional(),
    avatar_url: z
      .union([
        z.literal(""),
        z
          .string()
          .trim()
          .max(500)
          .pipe(z.url({ protocol: /^https?$/ })),
      ])
      .optional(),
  })
  .openapi("UserPatchRequest");
const GoogleBody = z
  .object({
    access_token: z.preprocess(emptyToUndefined, z.string().max(4096).optional()),
    role: z.preprocess(emptyToUndefined, z.enum(["ATTENDEE", "ORGANIZER"]).optional()),
    invitation_code: OptionalCode,
  })
  .openapi("GoogleLoginRequest");
const GoogleQuery = z.object({
  access_token: z.string().max(4096).optional(),
  role: z.string().max(20).optional(),
  invitation_code: z.string().max(64).optional(),
});
const ResetBody = z.object({ email: Email }).openapi("PasswordResetRequest");
const ResetConfirmBody = z
  .object({
    uid: z.string().trim().min(1).max(200),
    token: z.string().trim().min(1).max(200),
    new_password1: Password,
    new_password2: Password,
  })
  .openapi("PasswordResetConfirmRequest");

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

function sessionMeta(c: AppContext): SessionMeta {
  return { userAgent: c.req.header("user-agent"), ipAddress: clientAddress(c) };
}

/** The login answer (password or Google): session cookies, and the body Bearer clients read. */
function signedInResponse(c: AppContext, user: User, tokens: IssuedTokens) {
  setSessionCookies(c, tokens);
  const body: z.infer<typeof LoginResponse> = {
    access: tokens.access,
    refresh: "",
    user: toUserResponse(user),
  };
  return c.json(body, 200);
}

function detailMessage(c: AppContext, detail: string) {
  const body: z.infer<typeof DetailMessage> = { detail };
  return c.json(body, 200);
}

const INVALID_REFRESH = "Token is invalid or expired";

// ---------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------

export function registerAuthRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/auth/registration/",
      tags: TAGS,
      summary: "Create an account (attendee, or organizer with an invitation code)",
      description:
        "201 with the user and session cookies, and a verification email. An email that belongs to a guest " +
        "(shadow) account gets a claim email instead and a 400 `ACCOUNT_EXISTS_NEEDS_ACTIVATION` with an HttpOnly " +
        "claim cookie: the chosen password applies only when the claim link is used in this browser.",
      body: RegistrationBody,
      responses: {
        201: { description: "Registered and signed in", schema: RegistrationResponse },
        400: { description: "Validation error (DRF field errors)" },
      },
    },
    async (c, { body }) => {
      const outcome = await register(
        c.var.services,
        {
          username: body.username,
          email: body.email,
          password: body.password ?? body.password1 ?? "",
          role: body.role,
          invitationCode: body.invitation_code,
        },
        sessionMeta(c),
      );
      if (outcome.kind === "claim_pending") {
        // The 400 the web client expects, carrying the cookie that binds the mailed link here.
        if (outcome.claimBinding) setClaimCookie(c, outcome.claimBinding);
        throw DomainError.nonField(ACCOUNT_EXISTS_NEEDS_ACTIVATION);
      }
      const { user, tokens } = outcome.signedIn;
      setSessionCookies(c, tokens);
      const registered: z.infer<typeof RegistrationResponse> = { user: toUserResponse(user) };
      return c.json(registered, 201);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/auth/check-code/",
      tags: TAGS,
      summary: "Check an organizer invitation code",
      body: CheckCodeBody,
      errorDialect: "legacy",
      responses: {
        200: { description: "Valid", schema: CheckCodeResponse },
        404: { description: "Invalid or expired" },
        400: { description: "Empty code" },
        429: { description: "Too many wrong codes from this address (`rate_limited`, Retry-After)" },
      },
    },
    async (c, { body }) => {
      if (await checkInvitationCode(c.var.services, body.code, clientAddress(c))) {
        const valid: z.infer<typeof CheckCodeResponse> = { valid: true };
        return c.json(valid, 200);
      }
      throw new DomainError("invalid_code", "Invalid or expired code.", { extra: { valid: false } });
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/auth/guest/activate/",
      tags: TAGS,
      summary: "Use an activation link (email verification or guest-account claim)",
      description:
        "Proves the email and signs this browser in. A claim link sets the password chosen at registration " +
        "only with the claim cookie that registration set; elsewhere it activates without it.",
      body: ActivateBody,
      errorDialect: "legacy",
      responses: {
        200: { description: "Activated and signed in", schema: ActivationResponse },
        400: { description: "Bad or used link" },
      },
    },
    async (c, { body }) => {
      const claimBinding = readClaimCookie(c);
      const { user, tokens } = await activate(
        c.var.services,
        { uid: body.uid, token: body.token, claimBinding },
        sessionMeta(c),
      );
      // The link is spent (and every other activation link of the account with it).
      if (claimBinding) clearClaimCookie(c);
      setSessionCookies(c, tokens);
      const activated: z.infer<typeof ActivationResponse> = {
        message: "Account activated",
        user: toUserResponse(user),
      };
      return c.json(activated, 200);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/auth/login/",
      tags: TAGS,
      summary: "Log in with username or email and password",
      body: LoginBody,
      responses: {
        200: { description: "Signed in (cookies set)", schema: LoginResponse },
        400: { description: "Bad credentials" },
        429: { description: "Too many failed attempts (Retry-After)" },
      },
    },
    async (c, { body }) => {
      const identifier = body.email ?? body.username ?? "";
      const { user, tokens } = await login(
        c.var.services,
        { identifier, password: body.password, clientAddress: clientAddress(c) },
        sessionMeta(c),
      );
      return signedInResponse(c, user, tokens);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/auth/logout/",
      tags: TAGS,
      summary: "Log out: blacklist the presented tokens, end the session, clear cookies",
      responses: { 200: { description: "Logged out", schema: DetailMessage } },
    },
    async (c) => {
      const cookies = readSessionCookies(c);
      await logout(c.var.services, { access: [bearerToken(c), cookies.access], refresh: cookies.refresh });
      clearSessionCookies(c);
      return detailMessage(c, "Successfully logged out.");
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/auth/token/refresh/",
      tags: TAGS,
      summary: "Rotate the refresh token (cookie, or `refresh` in the body) and get a new access token",
      body: RefreshBody,
      responses: {
        200: { description: "New tokens", schema: RefreshResponse },
        401: { description: "Refresh token invalid, expired, or reused (session revoked)" },
      },
    },
    async (c, { body }) => {
      const fromBody = body.refresh;
      const token = fromBody ?? readSessionCookies(c).refresh;
      if (!token) throw DomainError.notAuthenticated();
      const renewed = await renewSession(c.var.services, token);
      if (!renewed.ok) {
        // A token that verified but whose session is over (or was just ended for reuse):
        // its cookies go too. A token sent in the body is the client's own to drop.
        if (renewed.reason !== "unverified" && !fromBody) clearSessionCookies(c);
        throw DomainError.authenticationFailed(INVALID_REFRESH);
      }
      setSessionCookies(c, renewed.tokens);
      // A client that sent the token in the body keeps it itself, so it gets the new one back.
      const refreshed: z.infer<typeof RefreshResponse> = {
        access: renewed.tokens.access,
        refresh: fromBody ? (renewed.tokens.refresh ?? fromBody) : "",
      };
      return c.json(refreshed, 200);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/auth/user/",
      tags: TAGS,
      summary: "The signed-in user",
      auth: "required",
      responses: { 200: { description: "User", schema: UserSchema }, 401: { description: "Not signed in" } },
    },
    async (c) => c.json(toUserResponse(await c.var.auth.requireUser()), 200),
  );

  defineRoute(
    app,
    {
      method: "patch",
      path: "/api/auth/user/",
      tags: TAGS,
      summary: "Update the profile (role, email, is_verified, wallet_id and id are read-only)",
      auth: "required",
      body: UserPatchBody,
      responses: {
        200: { description: "Updated user", schema: UserSchema },
        400: { description: "Validation error" },
      },
    },
    async (c, { body }) => {
      const user = await c.var.auth.requireUser();
      const updated = await updateProfile(c.var.services, user, {
        firstName: body.first_name,
        lastName: body.last_name,
        username: body.username,
        avatarUrl: body.avatar_url,
      });
      return c.json(toUserResponse(updated), 200);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/auth/google/",
      tags: TAGS,
      summary: "Sign in with a Google access token",
      description: "Fields may also be sent as query parameters (the original web client did).",
      body: GoogleBody,
      query: GoogleQuery,
      responses: {
        200: { description: "Signed in (cookies set)", schema: LoginResponse },
        400: { description: "Token invalid, for another app, unverified email, or expired" },
        502: { description: "Google unreachable" },
      },
    },
    async (c, { body, query }) => {
      // Body wins over query; both are validated by the same field rules.
      const merged = parseOrThrow(GoogleBody, { ...stripUndefined(query), ...stripUndefined(body) });
      if (!merged.access_token) throw DomainError.field("access_token", "This field is required.");
      const { user, tokens } = await signInWithGoogle(
        c.var.services,
        {
          accessToken: merged.access_token,
          role: merged.role ?? "ATTENDEE",
          invitationCode: merged.invitation_code,
        },
        sessionMeta(c),
      );
      return signedInResponse(c, user, tokens);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/auth/password/reset/",
      tags: TAGS,
      summary: "Email a password reset link (always 200: no account enumeration)",
      body: ResetBody,
      responses: {
        200: { description: "Accepted", schema: DetailMessage },
        400: { description: "Not an email" },
      },
    },
    async (c, { body }) => {
      await requestPasswordReset(c.var.services, body.email);
      return detailMessage(c, "Password reset e-mail has been sent.");
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/auth/password/reset/confirm/",
      tags: TAGS,
      summary: "Set a new password with a reset link (single use, 3 days; ends all sessions)",
      body: ResetConfirmBody,
      responses: {
        200: { description: "Password changed", schema: DetailMessage },
        400: { description: "Bad link or password" },
      },
    },
    async (c, { body }) => {
      await confirmPasswordReset(c.var.services, {
        uid: body.uid,
        token: body.token,
        newPassword1: body.new_password1,
        newPassword2: body.new_password2,
      });
      clearSessionCookies(c);
      return detailMessage(c, "Password has been reset with the new password.");
    },
  );
}

function stripUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
