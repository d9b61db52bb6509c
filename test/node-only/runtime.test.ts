/** The node project runs on the Node 22 from node_modules/.bin, not the system Node. */
import { expect, it } from "vitest";

it("runs on Node 22", () => {
  expect(process.versions.node.split(".")[0]).toBe("22");
  expect(navigator.userAgent).toMatch(/^Node\.js\/22/);
});
