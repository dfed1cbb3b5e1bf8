/** The user object of contract §2. */
import { z } from "@hono/zod-openapi";
import { USER_ROLES, type User } from "../../db/schema";

export const UserSchema = z
  .object({
    id: z.string().uuid(),
    username: z.string(),
    email: z.string(),
    role: z.enum(USER_ROLES),
    first_name: z.string(),
    last_name: z.string(),
    avatar_url: z.string(),
    is_verified: z.boolean(),
    /** The organizer's wallet id once activated (contract §17), else null. */
    wallet_id: z.string().nullable(),
  })
  .openapi("User");

type UserResponse = z.infer<typeof UserSchema>;

export function toUserResponse(user: User): UserResponse {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    role: user.role,
    first_name: user.firstName,
    last_name: user.lastName,
    avatar_url: user.avatarUrl,
    is_verified: user.isVerified,
    wallet_id: user.walletId ?? null,
  };
}
