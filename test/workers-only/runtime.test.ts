/** The workers project really runs inside workerd. */
import { expect, it } from "vitest";

it("runs in workerd", () => {
  expect(navigator.userAgent).toBe("Cloudflare-Workers");
});
