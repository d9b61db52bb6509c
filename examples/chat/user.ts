/**
 * The chat app's demo sign-in: the user picks a name, the user id is that
 * name as a lowercase slug, kept in an HttpOnly, SameSite=Lax cookie `uid`.
 * There is no password; anyone can be anyone. A real app puts its own
 * session here.
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";

/** The name of the cookie that holds the user id. */
export const USER_COOKIE = "uid";

const USER_ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * The user id for a display name: lowercase ASCII letters and digits, runs of
 * anything else as one `-`, accents dropped, at most 40 characters
 * (`"Ada Lovelace"` → `"ada-lovelace"`); undefined when nothing is left.
 */
export function userIdFromName(name: string): string | undefined {
  const slug = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, 40)
    .replace(/^-+|-+$/g, "");
  return USER_ID.test(slug) ? slug : undefined;
}

/** The signed-in user's id, from the `uid` cookie; undefined when absent or malformed. */
export function currentUser(c: Context): string | undefined {
  const userId = getCookie(c, USER_COOKIE);
  return userId !== undefined && userId.length <= 40 && USER_ID.test(userId) ? userId : undefined;
}

/** Signs `userId` in: sets the `uid` cookie (HttpOnly, SameSite=Lax, Secure on https, 30 days). */
export function signIn(c: Context, userId: string): void {
  setCookie(c, USER_COOKIE, userId, {
    path: "/",
    httpOnly: true,
    sameSite: "Lax",
    secure: new URL(c.req.url).protocol === "https:",
    maxAge: 30 * 24 * 3600,
  });
}

/** Signs the user out: removes the `uid` cookie. */
export function signOut(c: Context): void {
  deleteCookie(c, USER_COOKIE, { path: "/" });
}
