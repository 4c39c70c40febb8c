using System.Diagnostics;
using System.Text.Json;
using Proofsheet.BrowserTests.Infrastructure;
using Xunit.Abstractions;

namespace Proofsheet.BrowserTests;

/// <summary>
/// Lighthouse (npm, pinned in tests/tools) in Debian's Chromium on the home page and a published post: what a search
/// engine and an audit see (issue 14). One Chromium for both pages and only the three categories asserted, to keep it fast.
/// </summary>
public sealed class LighthouseTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly HubApp _app = new();

    public Task InitializeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Home_and_a_post_score_100_for_seo_and_best_practices_and_at_least_95_for_accessibility()
    {
        _app.Images.OpenFully();
        using var api = new HubApi(_app);
        var task = await api.CreateReviewedTaskAsync("Write about rye sourdough", variations: 1);
        var id = task.GetProperty("id").GetString()!;
        await api.SendAsync(HttpMethod.Post, $"/api/tasks/{id}/approve", new { index = 1 });
        await api.WaitForStatusAsync(id, "published");
        var slug = (await api.SendAsync(HttpMethod.Get, $"/api/tasks/{id}")).GetProperty("slug").GetString()!;

        var script = Path.Combine(Browser.RepositoryRoot(), "tests", "tools", "lighthouse-pages.mjs");
        Assert.True(File.Exists(Path.Combine(Browser.RepositoryRoot(), "tests", "tools", "node_modules", "lighthouse", "package.json")),
            "Lighthouse is missing: run 'npm ci --prefix tests/tools' (./test.sh does).");
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(_app.BaseUrl + "/");
        start.ArgumentList.Add($"{_app.BaseUrl}/posts/{slug}");
        start.Environment["CHROME_PATH"] = Browser.ChromiumPath;
        using var node = Process.Start(start)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await node.WaitForExitAsync(timeout.Token);
        Assert.True(node.ExitCode == 0, $"lighthouse-pages.mjs exited with {node.ExitCode}: {await stderr}");

        using var report = JsonDocument.Parse(await stdout);
        var problems = new List<string>();
        foreach (var page in report.RootElement.EnumerateArray())
        {
            var url = page.GetProperty("url").GetString();
            var scores = page.GetProperty("scores");
            var (seo, accessibility, practices) = (scores.GetProperty("seo").GetInt32(), scores.GetProperty("accessibility").GetInt32(), scores.GetProperty("best-practices").GetInt32());
            output.WriteLine($"{url}: SEO {seo}, accessibility {accessibility}, best practices {practices}");
            var failed = string.Join("; ", page.GetProperty("failed").EnumerateArray().Select(f => f.GetString()));
            if (page.GetProperty("runtimeError").GetString() is { } error)
            {
                problems.Add($"{url}: Lighthouse could not audit it: {error}");
            }
            if (seo < 100 || accessibility < 95 || practices < 100)
            {
                problems.Add($"{url}: SEO {seo}, accessibility {accessibility}, best practices {practices}; not passed: {failed}");
            }
        }
        Assert.Equal(2, report.RootElement.GetArrayLength());
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();
}
