import { describe, expect, it } from "vitest";
import { renderPinEnvelope } from "./pin-envelope.js";

describe("renderPinEnvelope", () => {
  const data = {
    userName: "Ann",
    email: "ann@example.org",
    deviceType: "PIV smart card",
    deviceSerial: "123",
    pin: "1234&5",
  };

  it("shows holder, device and PIN, escaped", () => {
    const html = renderPinEnvelope({ ...data, userName: `<script>alert("x")</script>` });
    expect(html).not.toContain("<script>");
    expect(html).toContain("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;");
    expect(html).toContain("<strong>1234&#38;5</strong>");
    expect(html).toContain("ann@example.org");
    expect(html).toContain("<title>PIN for PIV smart card 123</title>");
  });

  it("leaves out fields that are not given", () => {
    const { email: _, ...withoutEmail } = data;
    expect(renderPinEnvelope(withoutEmail)).not.toContain("E-mail");
  });
});
