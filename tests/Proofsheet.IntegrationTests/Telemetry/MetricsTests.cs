using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Proofsheet.IntegrationTests.Images;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Telemetry;

/// <summary>
/// /metrics as Prometheus reads it, from the app in its own process (the app's instruments are
/// process-wide, so no other test's work shows up here), scraped before, during and after a task.
/// </summary>
public sealed class MetricsTests
{
    private const string MetricsKey = "metrics-key-0123456789abcdef";

    [Fact]
    public async Task Each_metric_moves_during_a_workflow_and_only_the_key_or_a_hub_session_reads_them()
    {
        var folder = Directory.CreateTempSubdirectory("proofsheet-metrics-").FullName;
        await using var app = await AppProcess.StartAsync(new Dictionary<string, string?>
        {
            ["DataDirectory"] = Path.Combine(folder, "data"),
            ["Storage:PreviewDirectory"] = Path.Combine(folder, "previews"),
            ["Auth:ApiKeys"] = TestApp.ApiKey,
            ["Auth:AdminPassword"] = "admin-password-for-metrics",
            ["Metrics:Key"] = MetricsKey,
            // A GPU server that does not answer: a backend error, then title cards.
            ["Images:Providers"] = "automatic1111,titlecard",
            ["Images:Automatic1111:BaseUrls"] = DeadServer.Url(),
            // A receiver that does not answer: the webhook backlog grows.
            ["Webhooks:Urls"] = DeadServer.Url() + "/hook",
            ["Webhooks:Secret"] = "metrics-test-webhook-secret",
            ["Pipeline:PollInterval"] = "00:00:00.200",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        using var api = app.Client();
        using var scraper = app.Client(apiKey: null);

        Assert.Equal(HttpStatusCode.Unauthorized, (await scraper.GetAsync("/metrics")).StatusCode);
        using (var wrong = new HttpRequestMessage(HttpMethod.Get, "/metrics"))
        {
            wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.ApiKey); // an API key is not the metrics key
            Assert.Equal(HttpStatusCode.Unauthorized, (await scraper.SendAsync(wrong)).StatusCode);
        }

        var before = await ScrapeAsync(scraper);
        Assert.Equal(0, before.Sum("proofsheet_tasks", "status=\"published\""));

        var created = await api.PostAsJsonAsync("/api/tasks", new { topic = "Watching a queue with Prometheus", num_variations = 2 });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        await WaitForAsync(api, id, "awaiting_approval");

        var during = await ScrapeAsync(scraper);
        Assert.Equal(1, during.Sum("proofsheet_tasks", "status=\"awaiting_approval\""));
        Assert.True(during.Sum("proofsheet_backend_errors_total", "backend=\"automatic1111\"") > 0, during.Text);

        var approve = await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });
        Assert.True(approve.IsSuccessStatusCode, await approve.Content.ReadAsStringAsync());
        await WaitForAsync(api, id, "published");

        var expected = new[]
                 {
                     ("proofsheet_queue_wait_seconds_count", "step=\"writing\""),
                     ("proofsheet_step_duration_seconds_count", "step=\"writing\""),
                     ("proofsheet_step_duration_seconds_count", "step=\"generating_images\""),
                     ("proofsheet_step_duration_seconds_count", "step=\"publishing\""),
                     ("proofsheet_backend_duration_seconds_count", "backend=\"titlecard\""),
                     ("proofsheet_backend_errors_total", "kind=\"unreachable\""),
                     ("proofsheet_approval_candidates_count", ""),
                     ("proofsheet_approval_candidates_sum", ""),
                     ("proofsheet_approval_latency_seconds_count", ""),
                     ("proofsheet_uploads_total", "outcome=\"ok\""),
                     ("proofsheet_webhooks_backlog", "state=\"pending\""),
                 };
        // The publishing step's own duration is recorded when the step returns, just after the
        // commit that makes the task read as published: scrape until every metric has moved.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var after = await ScrapeAsync(scraper);
        while (expected.Any(e => after.Sum(e.Item1, e.Item2) <= before.Sum(e.Item1, e.Item2)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            after = await ScrapeAsync(scraper);
        }
        Assert.Equal(1, after.Sum("proofsheet_tasks", "status=\"published\""));
        Assert.Equal(0, after.Sum("proofsheet_tasks", "status=\"awaiting_approval\""));
        foreach (var (name, filter) in expected)
        {
            Assert.True(after.Sum(name, filter) > before.Sum(name, filter), $"{name}{{{filter}}} did not move:\n{after.Text}");
        }
        Assert.Equal(2, after.Sum("proofsheet_approval_candidates_sum", ""));
        Assert.Contains(after.Lines("proofsheet_step_duration_seconds_count"), l => l.Contains("backend=\"local\"", StringComparison.Ordinal));

        // A signed-in Hub session reads them too.
        using var hub = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = new Uri(app.BaseUrl) };
        var loginPage = await hub.GetStringAsync("/hub/login");
        var hidden = System.Text.RegularExpressions.Regex.Match(loginPage, "<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]*)\"");
        var login = await hub.PostAsync("/hub/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [hidden.Groups[1].Value] = hidden.Groups[2].Value,
            ["password"] = "admin-password-for-metrics",
            ["returnUrl"] = "/hub/tasks",
        }));
        Assert.True(login.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.SeeOther, await login.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await hub.GetAsync("/metrics")).StatusCode);
        Directory.Delete(folder, recursive: true);
    }

    private static async Task WaitForAsync(HttpClient api, string id, string status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var task = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}");
            var current = task.GetProperty("status").GetString();
            if (current == status)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline && current is not ("failed" or "cancelled"), $"Task {id} is {current}, not {status}: {task}");
            await Task.Delay(50);
        }
    }

    private static async Task<Scrape> ScrapeAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", MetricsKey);
        var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType ?? "", StringComparison.Ordinal);
        return new Scrape(text);
    }

    private sealed record Scrape(string Text)
    {
        public IEnumerable<string> Lines(string name) => Text.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal));

        /// <summary>The sum of every series of <paramref name="name"/> whose labels contain <paramref name="filter"/>.</summary>
        public double Sum(string name, string filter) => Lines(name)
            .Where(l => l.Contains(filter, StringComparison.Ordinal))
            .Sum(Value);

        /// <summary>The sample value: the first field after the labels (a timestamp may follow).</summary>
        private static double Value(string line)
        {
            var rest = line.Contains('}', StringComparison.Ordinal) ? line[(line.LastIndexOf('}') + 1)..] : line[line.IndexOf(' ', StringComparison.Ordinal)..];
            return double.Parse(rest.Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
    }
}
