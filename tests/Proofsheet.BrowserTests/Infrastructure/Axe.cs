using System.Text.Json;
using Microsoft.Playwright;

namespace Proofsheet.BrowserTests.Infrastructure;

/// <summary>
/// axe-core (npm, installed in tests/tools) run inside the page. It is evaluated through the
/// DevTools protocol rather than added as a script tag, so the app's Content-Security-Policy
/// stays as strict as it is in production.
/// </summary>
public static class Axe
{
    private static readonly Lazy<string> Source = new(() =>
    {
        var path = Path.Combine(Browser.RepositoryRoot(), "tests", "tools", "node_modules", "axe-core", "axe.min.js");
        return File.Exists(path)
            ? File.ReadAllText(path)
            : throw new InvalidOperationException($"{path} is missing: run 'npm ci --prefix tests/tools' (./test.sh does).");
    });

    /// <summary>The critical and serious violations on the page as it is now, one line each.</summary>
    public static async Task<IReadOnlyList<string>> SeriousViolationsAsync(IPage page)
    {
        if (!await page.EvaluateAsync<bool>("() => typeof window.axe === 'object'"))
        {
            await page.EvaluateAsync(Source.Value);
        }
        var json = await page.EvaluateAsync<JsonElement>(@"async () => {
            const result = await axe.run(document, { resultTypes: ['violations'] });
            return result.violations.filter(v => v.impact === 'critical' || v.impact === 'serious')
              .map(v => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`);
        }");
        return json.EnumerateArray().Select(e => e.GetString()!).ToList();
    }
}
