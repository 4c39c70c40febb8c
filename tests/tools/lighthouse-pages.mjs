// Audits pages of a running site with Lighthouse, all in one Chromium (its Node API: faster than one CLI run a
// page). Used by tests/Proofsheet.BrowserTests/LighthouseTests.cs; runnable by hand the same way:
//   CHROME_PATH=/usr/bin/chromium node tests/tools/lighthouse-pages.mjs http://127.0.0.1:5391/ http://127.0.0.1:5391/posts/a-post
// Prints one JSON array: for each page its scores (0-100) for SEO, accessibility and best practices, and every
// weighted audit that did not pass, so a failing test says what to fix.
import lighthouse from "lighthouse";
import * as chromeLauncher from "chrome-launcher";

const urls = process.argv.slice(2);
const flags = ["--headless=new", "--disable-gpu"];
if (process.getuid && process.getuid() === 0) flags.push("--no-sandbox"); // Chromium refuses to sandbox as root
const chrome = await chromeLauncher.launch({ chromePath: process.env.CHROME_PATH || "/usr/bin/chromium", chromeFlags: flags });
try {
  const pages = [];
  for (const url of urls) {
    const { lhr } = await lighthouse(url, {
      port: chrome.port,
      output: "json",
      logLevel: "error",
      onlyCategories: ["seo", "accessibility", "best-practices"],
    });
    const scores = Object.fromEntries(Object.entries(lhr.categories).map(([id, c]) => [id, Math.round(c.score * 100)]));
    const failed = Object.values(lhr.categories).flatMap((c) => c.auditRefs
      .filter((ref) => ref.weight > 0)
      .map((ref) => lhr.audits[ref.id])
      .filter((a) => a.score !== null && a.score < 1)
      .map((a) => `${c.id}: ${a.id} (${a.title})`));
    pages.push({ url, scores, failed, runtimeError: lhr.runtimeError ? lhr.runtimeError.message : null });
  }
  process.stdout.write(JSON.stringify(pages));
} finally {
  await chrome.kill();
}
