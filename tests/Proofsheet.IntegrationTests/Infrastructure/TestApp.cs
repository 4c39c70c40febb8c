using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Proofsheet.IntegrationTests.Infrastructure;

/// <summary>
/// The real app in a test host, on a database of its own (SQLite file or PostgreSQL database)
/// and its own data and preview folders. Two apps made with the same <see cref="Folder"/> and
/// connection string share their data, as a restarted process would. An app made with
/// <c>sameDatabaseAs</c> shares only the database, with folders of its own: a second machine.
/// </summary>
public sealed class TestApp : WebApplicationFactory<Program>
{
    public const string ApiKey = "test-key-0123456789";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;

    private TestApp(string folder, Dictionary<string, string?> settings, Action<IServiceCollection>? services)
    {
        Folder = folder;
        _settings = settings;
        _services = services;
    }

    public string Folder { get; }
    public string ConnectionString => _settings["ConnectionStrings:Default"]!;
    public string PreviewDirectory => Path.Combine(Folder, "previews");
    public string MediaDirectory => Path.Combine(Folder, "data", "media");

    public static async Task<TestApp> StartAsync(
        TestDatabase database, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null, TestApp? sameDataAs = null,
        TestApp? sameDatabaseAs = null)
    {
        var folder = sameDataAs?.Folder ?? Directory.CreateTempSubdirectory("proofsheet-test-").FullName;
        Directory.CreateDirectory(Path.Combine(folder, "data"));
        var all = new Dictionary<string, string?>
        {
            ["DataDirectory"] = Path.Combine(folder, "data"),
            ["Storage:PreviewDirectory"] = Path.Combine(folder, "previews"),
            ["Database:Provider"] = database.Provider,
            ["ConnectionStrings:Default"] = (sameDataAs ?? sameDatabaseAs)?.ConnectionString ?? await database.CreateAsync(Path.Combine(folder, "data")),
            ["Auth:ApiKeys"] = ApiKey,
            ["Pipeline:PollInterval"] = "00:00:00.200",
            ["Pipeline:RetryBaseDelay"] = "00:00:00.100",
            ["Pipeline:RetryMaxDelay"] = "00:00:01",
            ["Logging:LogLevel:Default"] = "Warning",
            // Tests drive generation faster than a person would; the limit has its own test.
            ["RateLimits:Generation:PermitLimit"] = "100000",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }
        var app = new TestApp(folder, all, services);
        _ = app.Server; // start now, so that start-up failures surface here
        return app;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        builder.UseEnvironment("Production");
        if (_services is not null)
        {
            builder.ConfigureTestServices(_services);
        }
    }

    /// <summary>A client that sends the API key.</summary>
    public HttpClient Api()
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        return client;
    }

    public async Task<JsonElement> CreateTaskAsync(string topic, int? variations = null)
    {
        using var client = Api();
        var response = await client.PostAsJsonAsync("/api/tasks", new { topic, num_variations = variations });
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public async Task<JsonElement> GetTaskAsync(string id)
    {
        using var client = Api();
        return await client.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}");
    }

    /// <summary>Polls until the task reaches <paramref name="status"/> (or fails the test on a final status or after a generous limit).</summary>
    public async Task<JsonElement> WaitForStatusAsync(string id, string status, TimeSpan? limit = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var task = await GetTaskAsync(id);
            var current = task.GetProperty("status").GetString();
            if (current == status)
            {
                return task;
            }
            if (DateTime.UtcNow > deadline || (current is "failed" or "cancelled" or "rejected" or "published" && current != status))
            {
                Assert.Fail($"Task {id} is {current} (error: {task.GetProperty("error")}), not {status}.");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>Polls a condition that follows an event the test cannot subscribe to (e.g. a clean-up after a commit).</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan? limit = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not come true in time.");
            await Task.Delay(50);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>Deletes the app's folders (after the last app on them is disposed).</summary>
    public void DeleteFolder()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
