using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Proofsheet.Telemetry;

public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>An OTLP collector (e.g. http://otel-collector:4317). Unset: no traces are made or exported.
    /// The standard OTEL_EXPORTER_OTLP_ENDPOINT variable works too.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>grpc</c> (port 4317) or <c>http/protobuf</c> (port 4318).</summary>
    [RegularExpression("^(grpc|http/protobuf)$")]
    public string OtlpProtocol { get; set; } = "grpc";
}

public sealed class MetricsOptions
{
    public const string Section = "Metrics";

    /// <summary>A bearer token for Prometheus to scrape /metrics with. Unset: only a signed-in Hub session can read it.</summary>
    [MinLength(16)]
    public string? Key { get; set; }
}

/// <summary>
/// OpenTelemetry: metrics always (Prometheus scrapes /metrics; measurements are only aggregated,
/// nothing is sent anywhere), traces only when an OTLP endpoint is configured, so an app without
/// one creates no spans at all. Logs carry the task id as a scope on every line of a task's work.
/// </summary>
public static class TelemetryExtensions
{
    public static WebApplicationBuilder AddTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddSection<TelemetryOptions>(TelemetryOptions.Section);
        builder.Services.AddSection<MetricsOptions>(MetricsOptions.Section);
        builder.Services.AddSingleton<TaskStateGauges>();
        // The task id (a logging scope set by the worker) on every console line of a task's work.
        builder.Services.Configure<SimpleConsoleFormatterOptions>(o => o.IncludeScopes = true);
        // ASP.NET Core writes four Information lines for every request (request starting, endpoint executing and
        // executed, request finished): with no level configured they were nearly all of the log, and writing them
        // cost a cached public read about a third of its throughput (docs/benchmarks.md). Warnings by default, as
        // the ASP.NET Core templates set it; the lowest-precedence source, so Logging:LogLevel:Microsoft.AspNetCore
        // from any setting (environment: Logging__LogLevel__Microsoft.AspNetCore=Information) turns them back on.
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?> { ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning" },
        });

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("proofsheet", serviceInstanceId: Environment.MachineName))
            .WithMetrics(m => m
                .AddMeter(ProofsheetTelemetry.Name)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                // Npgsql's meter by name (what AddNpgsqlInstrumentation does): calling into Npgsql.OpenTelemetry
                // would load Npgsql into an app on SQLite; on SQLite the meter simply never appears.
                .AddMeter("Npgsql")
                // No cached scrape: a scrape reads the numbers of that moment (Prometheus asks every 15 s or so).
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));

        var endpoint = builder.Configuration[$"{TelemetryOptions.Section}:{nameof(TelemetryOptions.OtlpEndpoint)}"];
        var fromEnvironment = Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT");
        if (!string.IsNullOrWhiteSpace(endpoint) || !string.IsNullOrWhiteSpace(fromEnvironment))
        {
            otel.WithTracing(Tracing);
            var protocol = builder.Configuration[$"{TelemetryOptions.Section}:{nameof(TelemetryOptions.OtlpProtocol)}"] == "http/protobuf"
                ? OtlpExportProtocol.HttpProtobuf
                : OtlpExportProtocol.Grpc;
            if (string.IsNullOrWhiteSpace(endpoint))
            {
                otel.UseOtlpExporter();
            }
            else
            {
                otel.UseOtlpExporter(protocol, new Uri(endpoint));
            }
        }
        return builder;
    }

    /// <summary>What a trace holds: a task's steps and backend calls, the HTTP requests served and
    /// made, and PostgreSQL commands.</summary>
    public static void Tracing(TracerProviderBuilder tracing) => tracing
        .AddSource(ProofsheetTelemetry.Name)
        .AddAspNetCoreInstrumentation(o => o.Filter = http => !http.Request.Path.StartsWithSegments("/metrics") && !http.Request.Path.StartsWithSegments("/health"))
        .AddHttpClientInstrumentation()
        .AddNpgsql();

    public static void StartTelemetry(this IServiceProvider services) => services.GetRequiredService<TaskStateGauges>().Register();

    /// <summary>/metrics for Prometheus: a signed-in Hub session, or <c>Authorization: Bearer</c> with <c>Metrics:Key</c>.</summary>
    public static WebApplication MapMetrics(this WebApplication app)
    {
        app.UseWhen(c => c.Request.Path.Equals("/metrics", StringComparison.OrdinalIgnoreCase), branch => branch.Use(async (context, next) =>
        {
            if (await AllowedAsync(context))
            {
                await next(context);
                return;
            }
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await Results.Problem(statusCode: 401, title: "Unauthorized",
                detail: "Metrics need a signed-in Hub session or 'Authorization: Bearer' with the metrics key (Metrics:Key).").ExecuteAsync(context);
        }));
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    private static async Task<bool> AllowedAsync(HttpContext context)
    {
        var key = context.RequestServices.GetRequiredService<IOptionsMonitor<MetricsOptions>>().CurrentValue.Key;
        var authorization = context.Request.Headers.Authorization.ToString();
        if (!string.IsNullOrEmpty(key) && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            // Compared as hashes in constant time: the key's length and prefix leak nothing.
            var presented = SHA256.HashData(Encoding.UTF8.GetBytes(authorization["Bearer ".Length..].Trim()));
            return CryptographicOperations.FixedTimeEquals(presented, SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        }
        var hub = await context.AuthenticateAsync(Auth.AuthExtensions.HubScheme);
        return hub.Succeeded;
    }
}
