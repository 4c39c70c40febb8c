using System.Diagnostics;
using Proofsheet.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Proofsheet.IntegrationTests.Api;

/// <summary>
/// The OpenAPI document is good enough for tools nobody here wrote: openapi-typescript generates
/// types from it, tsc --strict checks a client written against them, openapi-fetch drives the whole
/// workflow with it, and Redocly's recommended rules find no error. All from tests/tools (npm ci).
/// </summary>
public sealed class GeneratedClientTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string Tools = Path.Combine(TestPaths.RepositoryRoot(), "tests", "tools");
    private AppProcess _app = null!;
    private string _folder = "";
    private string _work = "";

    public async Task InitializeAsync()
    {
        foreach (var tool in new[] { "openapi-typescript", "openapi-fetch", "typescript", "@redocly/cli" })
        {
            if (!Directory.Exists(Path.Combine(Tools, "node_modules", tool)))
            {
                throw new InvalidOperationException($"{tool} is missing: run `npm ci --prefix tests/tools` (./test.sh does).");
            }
        }
        _folder = Directory.CreateTempSubdirectory("proofsheet-openapi-").FullName;
        // Inside tests/tools, so that the compiled client finds openapi-fetch in node_modules.
        _work = Directory.CreateDirectory(Path.Combine(Tools, "generated-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        _app = await AppProcess.StartAsync(new Dictionary<string, string?>
        {
            ["DataDirectory"] = Path.Combine(_folder, "data"),
            ["Storage:PreviewDirectory"] = Path.Combine(_folder, "previews"),
            ["Auth:ApiKeys"] = TestApp.ApiKey,
            ["Pipeline:PollInterval"] = "00:00:00.200",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        using var client = _app.Client(apiKey: null);
        await File.WriteAllTextAsync(Path.Combine(_work, "openapi.json"), await client.GetStringAsync("/openapi/v1.json"));
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        Directory.Delete(_work, recursive: true);
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task A_generated_typescript_client_drives_the_whole_workflow()
    {
        var generate = await NodeAsync("node_modules/openapi-typescript/bin/cli.js", Path.Combine(_work, "openapi.json"), "-o", Path.Combine(_work, "schema.d.ts"));
        Assert.True(generate.Code == 0, generate.Output);
        File.Copy(Path.Combine(Tools, "openapi-client", "workflow.mts"), Path.Combine(_work, "workflow.mts"));
        var compile = await NodeAsync(
            "node_modules/typescript/bin/tsc", "--strict", "--noUncheckedIndexedAccess", "--target", "es2022", "--module", "nodenext",
            "--moduleResolution", "nodenext", "--skipLibCheck", "--types", "node", "--outDir", _work, Path.Combine(_work, "workflow.mts"));
        Assert.True(compile.Code == 0, "The client does not type-check against the generated schema:\n" + compile.Output);

        var run = await NodeAsync(Path.Combine(_work, "workflow.mjs"), _app.BaseUrl, TestApp.ApiKey);
        Assert.True(run.Code == 0, run.Output + "\n--- app ---\n" + _app.Output);
        Assert.Contains("WORKFLOW OK", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Redocly_recommended_rules_find_no_error()
    {
        var lint = await NodeAsync("node_modules/@redocly/cli/bin/cli.js", "lint", "--extends=recommended", "--format=stylish", Path.Combine(_work, "openapi.json"));
        Assert.True(lint.Code == 0, lint.Output);
        Assert.DoesNotContain(" error ", lint.Output, StringComparison.Ordinal);
    }

    private async Task<(int Code, string Output)> NodeAsync(params string[] args)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = Tools,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["REDOCLY_TELEMETRY"] = "off";
        start.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(limit.Token);
        var text = await stdout + await stderr;
        output.WriteLine($"node {string.Join(' ', args)} -> {process.ExitCode}\n{text}");
        return (process.ExitCode, text);
    }
}
