using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Telemetry;

/// <summary>
/// With <c>Telemetry:OtlpEndpoint</c> set, spans and metrics leave the app over OTLP. The collector
/// here is an in-process stand-in for OTLP/HTTP: it takes what the OpenTelemetry exporter POSTs to
/// /v1/traces and /v1/metrics (protobuf bodies) and answers 200, as a collector does.
/// </summary>
public sealed class OtlpExportTests
{
    [Fact]
    public async Task With_an_endpoint_set_a_task_s_spans_and_the_metrics_are_exported_over_otlp()
    {
        var received = new ConcurrentQueue<(string Path, string? ContentType, long Length)>();
        await using var collector = await StandInServer.StartAsync(app => app.MapPost("/v1/{signal}", async (HttpContext http) =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            received.Enqueue((http.Request.Path, http.Request.ContentType, body.Length));
            return Results.Ok();
        }));
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?>
        {
            ["Telemetry:OtlpEndpoint"] = collector.BaseUrl,
            ["Telemetry:OtlpProtocol"] = "http/protobuf",
            // The SDK's own settings, read from configuration: export often, so the test need not wait 5 s.
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
        });
        var id = (await app.CreateTaskAsync("Exporting traces", variations: 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!(received.Any(r => r.Path == "/v1/traces") && received.Any(r => r.Path == "/v1/metrics")))
        {
            Assert.True(DateTime.UtcNow < deadline, "Received: " + string.Join(", ", received.Select(r => r.Path)));
            await Task.Delay(50);
        }
        Assert.All(received, r =>
        {
            Assert.Equal("application/x-protobuf", r.ContentType);
            Assert.True(r.Length > 0);
        });
        app.DeleteFolder();
    }
}
