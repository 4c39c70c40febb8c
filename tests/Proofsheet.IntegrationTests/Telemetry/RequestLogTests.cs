using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Telemetry;

/// <summary>
/// ASP.NET Core's lines for every request (request starting, endpoint executed, request finished) are off by
/// default, so the log holds what the app has to say; one setting brings them back.
/// </summary>
public sealed class RequestLogTests
{
    [Theory]
    [InlineData(null, false)]
    [InlineData("Information", true)]
    public async Task Requests_are_logged_one_by_one_only_when_asked(string? aspNetCoreLevel, bool logged)
    {
        var logs = new CapturingLoggerProvider();
        var settings = new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Information" };
        if (aspNetCoreLevel is not null)
        {
            settings["Logging:LogLevel:Microsoft.AspNetCore"] = aspNetCoreLevel;
        }
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), settings, services => services.AddLogging(b => b.AddProvider(logs)));
        using var client = app.CreateClient();

        (await client.GetAsync("/health/live")).EnsureSuccessStatusCode();
        await client.GetStringAsync("/api/posts");

        Assert.Equal(logged, logs.Lines.Any(l => l.StartsWith("Information Microsoft.AspNetCore.Hosting.Diagnostics: Request starting", StringComparison.Ordinal)
            && l.Contains("/api/posts", StringComparison.Ordinal)));
        // The app's own Information lines are not affected.
        Assert.Contains(logs.Lines, l => l.StartsWith("Information Proofsheet.", StringComparison.Ordinal));
    }
}
