using System.Net;
using System.Text.Json;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Telemetry;

/// <summary>
/// Start-up as docs/benchmarks.md ("5. Start-up") explains it: the app in its own process with the
/// defaults (SQLite, outline writer, title cards, local media folder), so that what it loaded is its own.
/// </summary>
public sealed class StartupTests
{
    [Fact]
    public async Task A_default_app_logs_where_start_up_went_and_loads_no_sdk_of_a_backend_it_does_not_use()
    {
        var folder = Directory.CreateTempSubdirectory("proofsheet-startup-").FullName;
        await using var app = await AppProcess.StartAsync(new Dictionary<string, string?>
        {
            ["DataDirectory"] = Path.Combine(folder, "data"),
            ["Storage:PreviewDirectory"] = Path.Combine(folder, "previews"),
            ["Auth:ApiKeys"] = TestApp.ApiKey,
        });
        using var client = app.Client(apiKey: null);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/posts")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        using (var api = app.Client())
        {
            Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/tasks")).StatusCode);
        }

        // One line, after the first answered request, with the milliseconds of every step of Program.cs.
        var line = await WaitForOutputAsync(app, "answered the first request");
        foreach (var phase in new[] { "runtime", "create builder", "build", "migrations", "cluster", "accounts", "telemetry", "pipeline",
                     "host services", "hosted services", "started", "first request", "total" })
        {
            Assert.Matches($"[:,] {phase} \\d+ ms", line);
        }
        Assert.Matches(@"cpu \d+ ms, jit \d+ methods in \d+ ms, \d+ assemblies", line);

        // An assembly the runtime loaded is a file mapped into the process.
        var mapped = File.ReadLines($"/proc/{app.Id}/maps")
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6 && f[5].StartsWith('/'))
            .Select(f => Path.GetFileName(f[5]))
            .ToHashSet(StringComparer.Ordinal);
        Assert.Contains("Proofsheet.dll", mapped);
        Assert.Contains("Microsoft.EntityFrameworkCore.Sqlite.dll", mapped);
        foreach (var unused in new[] { "AWSSDK.Core.dll", "AWSSDK.S3.dll", "OpenAI.dll", "Anthropic.dll", "Npgsql.dll", "Npgsql.EntityFrameworkCore.PostgreSQL.dll" })
        {
            Assert.DoesNotContain(unused, mapped);
        }
    }

    /// <summary>Workstation GC with ConserveMemory, as Proofsheet.csproj means it (the Web SDK's default is server GC).</summary>
    [Fact]
    public void The_app_is_built_for_workstation_gc_with_conserve_memory()
    {
        var runtimeConfig = Path.ChangeExtension(AppProcess.AppDll(), ".runtimeconfig.json");
        using var json = JsonDocument.Parse(File.ReadAllText(runtimeConfig));
        var properties = json.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.False(properties.GetProperty("System.GC.Server").GetBoolean());
        Assert.True(properties.GetProperty("System.GC.Concurrent").GetBoolean());
        Assert.Equal(5, properties.GetProperty("System.GC.ConserveMemory").GetInt32());
    }

    private static async Task<string> WaitForOutputAsync(AppProcess app, string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (app.Output.Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) is { } line)
            {
                return line;
            }
            Assert.False(app.HasExited, $"The app exited:\n{app.Output}");
            Assert.True(DateTime.UtcNow < deadline, $"The app never wrote '{text}':\n{app.Output}");
            await Task.Delay(50);
        }
    }
}
