using System.Net.Http.Json;
using System.Text.Json;

namespace Proofsheet.BrowserTests.Infrastructure;

/// <summary>The app's HTTP API, for setting up what a browser walk starts from (and for changes "made by someone else").</summary>
public sealed class HubApi(HubApp app) : IDisposable
{
    public const string Key = "browser-test-key-0123456789";

    private readonly HttpClient _client = CreateClient(app);

    private static HttpClient CreateClient(HubApp app)
    {
        var client = new HttpClient { BaseAddress = new Uri(app.BaseUrl) };
        client.DefaultRequestHeaders.Add("X-Api-Key", Key);
        return client;
    }

    public async Task<JsonElement> SendAsync(HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await _client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{method} {path} answered {(int)response.StatusCode}: {text}");
        }
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Makes a task and waits (on the task's own event stream) until its images are ready for review.</summary>
    public async Task<JsonElement> CreateReviewedTaskAsync(string topic, int variations = 1)
    {
        var created = await SendAsync(HttpMethod.Post, "/api/tasks", new { topic, num_variations = variations });
        var id = created.GetProperty("id").GetString()!;
        await WaitForStatusAsync(id, "awaiting_approval");
        return await SendAsync(HttpMethod.Get, $"/api/tasks/{id}");
    }

    /// <summary>Reads the task's server-sent events until it reports <paramref name="status"/>.</summary>
    public async Task WaitForStatusAsync(string id, string status)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var now = await SendAsync(HttpMethod.Get, $"/api/tasks/{id}");
            if (now.GetProperty("status").GetString() == status)
            {
                return;
            }
            using var stream = await _client.GetStreamAsync($"/api/tasks/{id}/events", timeout.Token);
            using var reader = new StreamReader(stream);
            while (await reader.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith("data:", StringComparison.Ordinal) && line.Contains($"\"status\":\"{status}\"", StringComparison.Ordinal))
                {
                    return;
                }
            }
        }
    }

    public void Dispose() => _client.Dispose();
}
