/** `/api/auth/` (contract §2): thin handlers over services/accounts and services/sessions. */
import { z } from "@hono/zod-openapi";
import type { User } from "../../db/schema";
import { DomainError } from "../../lib/errors";
import { type TokenClaims, verifyToken } from "../../lib/session-tokens";
import {
  activate,
  confirmPasswordReset,
  isInvitationCodeValid,
  login,
  register,
  requestPasswordReset,
  signInWithGoogle,
  updateProfile,
} from "../../services/accounts";
import { type IssuedTokens, logout, rotateRefreshToken, type SessionMeta } from "../../services/sessions";
import {
  bearerToken,
  clearSessionCookies,
  readSessionCookies,
  setAccessCookie,
  setRefreshCookie,
} from "../cookies";
import { emptyToUndefined, Username } from "../fields";
import { type Api, type AppContext, defineRoute } from "../route";
import { parseOrThrow } from "../validation";
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

const LoginResponse = z
  .object({ access: z.string(), refresh: z.string(), user: UserSchema })
  .openapi("LoginResponse");
const DetailResponse = z.object({ detail: z.string() }).openapi("Detail");

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

function clientAddress(c: AppContext): string {
  return c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? "unknown";
}

function sessionMeta(c: AppContext): SessionMeta {
  return { userAgent: c.req.header("user-agent"), ipAddress: clientAddress(c) };
}

function setSessionCookies(c: AppContext, tokens: IssuedTokens): void {
  setAccessCookie(c, tokens.access);
  if (tokens.refresh) setRefreshCookie(c, tokens.refresh);
}

/** The login answer: the access token for Bearer clients; the refresh token stays in its cookie. */
function signedInResponse(c: AppContext, user: User, tokens: IssuedTokens) {
  setSessionCookies(c, tokens);
  return c.json({ access: tokens.access, refresh: "", user: toUserResponse(user) }, 200);
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
        "(shadow) account gets a claim email instead and a 400 `ACCOUNT_EXISTS_NEEDS_ACTIVATION`.",
      body: RegistrationBody,
      responses: {
        201: { description: "Registered and signed in", schema: z.object({ user: UserSchema }) },
        400: { description: "Validation error (DRF field errors)" },
      },
    },
    async (c, { body }) => {
      const { user, tokens } = await register(
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
      setSessionCookies(c, tokens);
      return c.json({ user: toUserResponse(user) }, 201);
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
        200: { description: "Valid", schema: z.object({ valid: z.literal(true) }) },
        404: { description: "Invalid or expired" },
        400: { description: "Empty code" },
      },
    },
    async (c, { body }) => {
      if (await isInvitationCodeValid(c.var, body.code)) return c.json({ valid: true }, 200);
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
      body: ActivateBody,
      errorDialect: "legacy",
      responses: {
        200: {
          description: "Activated and signed in",
          schema: z.object({ message: z.string(), user: UserSchema }),
        },
        400: { description: "Bad or used link" },
      },
    },
    async (c, { body }) => {
      const { user, tokens } = await activate(c.var.services, body.uid, body.token, sessionMeta(c));
      setSessionCookies(c, tokens);
      return c.json({ message: "Account activated", user: toUserResponse(user) }, 200);
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
      responses: { 200: { description: "Logged out", schema: DetailResponse } },
    },
    async (c) => {
      const secret = c.var.config.jwtSecret;
      const cookies = readSessionCookies(c);
      const candidates: Array<[string | undefined, "access" | "refresh"]> = [
        [bearerToken(c), "access"],
        [cookies.access, "access"],
        [cookies.refresh, "refresh"],
      ];
      const presented: TokenClaims[] = [];
      for (const [token, type] of candidates) {
        if (!token) continue;
        const verified = await verifyToken(secret, token, type, { allowExpired: true });
        if (verified.ok) presented.push(verified.claims);
      }
      await logout(c.var.db, presented);
      clearSessionCookies(c);
      return c.json({ detail: "Successfully logged out." }, 200);
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
        200: { description: "New tokens", schema: z.object({ access: z.string(), refresh: z.string() }) },
        401: { description: "Refresh token invalid, expired, or reused (session revoked)" },
      },
    },
    async (c, { body }) => {
      const fromBody = body.refresh;
      const token = fromBody ?? readSessionCookies(c).refresh;
      if (!token) throw DomainError.notAuthenticated();
      const verified = await verifyToken(c.var.config.jwtSecret, token, "refresh");
      if (!verified.ok) throw DomainError.authenticationFailed(INVALID_REFRESH);
      const rotated = await rotateRefreshToken(c.var.db, c.var.config.jwtSecret, verified.claims);
      if (!rotated.ok) {
        if (!fromBody) clearSessionCookies(c);
        throw DomainError.authenticationFailed(INVALID_REFRESH);
      }
      setSessionCookies(c, rotated.tokens);
      // A client that sent the token in the body keeps it itself, so it gets the new one back.
      return c.json(
        { access: rotated.tokens.access, refresh: fromBody ? (rotated.tokens.refresh ?? fromBody) : "" },
        200,
      );
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
      const updated = await updateProfile(c.var.db, user, {
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
        200: { description: "Accepted", schema: DetailResponse },
        400: { description: "Not an email" },
      },
    },
    async (c, { body }) => {
      await requestPasswordReset(c.var.services, body.email);
      return c.json({ detail: "Password reset e-mail has been sent." }, 200);
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
        200: { description: "Password changed", schema: DetailResponse },
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
      return c.json({ detail: "Password has been reset with the new password." }, 200);
    },
  );
}

function stripUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
