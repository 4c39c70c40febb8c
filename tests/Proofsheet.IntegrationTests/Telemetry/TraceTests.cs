using System.Collections;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Proofsheet.IntegrationTests.Images;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.Telemetry;

namespace Proofsheet.IntegrationTests.Telemetry;

/// <summary>One task on PostgreSQL, traced into an in-memory exporter: each step is a trace of its own
/// whose spans are the step's writer call, image backend calls, upload and database commands.</summary>
public sealed class TraceTests
{
    [Fact]
    public async Task A_task_s_steps_are_traces_with_their_backend_calls_as_spans()
    {
        var spans = new LockedList();
        await using var app = await TestApp.StartAsync(new PostgresDatabase(), new Dictionary<string, string?>
        {
            ["Images:Providers"] = "automatic1111,titlecard",
            ["Images:Automatic1111:BaseUrls"] = DeadServer.Url(),
            ["Webhooks:Urls"] = DeadServer.Url() + "/hook",
            ["Webhooks:Secret"] = "trace-test-webhook-secret",
        }, services => services.AddOpenTelemetry().WithTracing(t =>
        {
            TelemetryExtensions.Tracing(t);
            t.AddInMemoryExporter(spans);
        }));
        var id = (await app.CreateTaskAsync("Tracing a slow GPU server", variations: 2)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        using (var client = app.Api())
        {
            var approve = await client.PostAsync($"/api/tasks/{id}/approve", System.Net.Http.Json.JsonContent.Create(new { index = 2 }));
            Assert.True(approve.IsSuccessStatusCode);
        }
        await app.WaitForStatusAsync(id, "published");

        // The exporter gets a span when it ends; the step span ends after its children.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        Dictionary<string, Activity> steps;
        while (true)
        {
            steps = spans.Snapshot()
                .Where(a => a.OperationName.StartsWith("task ", StringComparison.Ordinal) && (a.GetTagItem("proofsheet.task_id") as string) == id)
                .GroupBy(a => (string)a.GetTagItem("proofsheet.step")!)
                .ToDictionary(g => g.Key, g => g.First());
            if (steps.ContainsKey("publishing") && spans.Snapshot().Any(a => a.OperationName.StartsWith("webhook ", StringComparison.Ordinal)))
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "Steps traced: " + string.Join(", ", steps.Keys));
            await Task.Delay(50);
        }
        Assert.Equal(["generating_images", "publishing", "queued", "writing"], steps.Keys.Order().ToArray());
        // One trace per step, each step the root of its own.
        Assert.Equal(4, steps.Values.Select(s => s.TraceId).Distinct().Count());
        Assert.All(steps.Values, s => Assert.Equal(default, s.ParentSpanId));

        var all = spans.Snapshot();
        IReadOnlyList<Activity> In(string step) => all.Where(a => a.TraceId == steps[step].TraceId && a != steps[step]).ToList();

        Assert.Single(In("writing"), a => a.OperationName.StartsWith("writer ", StringComparison.Ordinal) && a.ParentSpanId == steps["writing"].SpanId);
        var images = In("generating_images").Where(a => a.OperationName.StartsWith("image ", StringComparison.Ordinal)).ToList();
        var gpu = Assert.Single(images, a => a.OperationName == "image automatic1111");
        Assert.Equal(ActivityStatusCode.Error, gpu.Status);
        Assert.Contains(images, a => a.OperationName == "image titlecard" && a.Status != ActivityStatusCode.Error);
        // The image and its web copies (social card, WebP sizes), each an upload span of the step.
        Assert.Contains(In("publishing"), a => a.OperationName == "upload local" && a.ParentSpanId == steps["publishing"].SpanId);
        // The database commands of a step are in its trace (Npgsql instrumentation).
        Assert.Contains(In("publishing"), a => a.Source.Name == "Npgsql");
        app.DeleteFolder();
    }

    /// <summary>The exporter adds from the worker's threads while the test reads.</summary>
    private sealed class LockedList : ICollection<Activity>
    {
        private readonly List<Activity> _items = [];

        public int Count { get { lock (_items) { return _items.Count; } } }
        public bool IsReadOnly => false;
        public List<Activity> Snapshot() { lock (_items) { return [.. _items]; } }
        public void Add(Activity item) { lock (_items) { _items.Add(item); } }
        public void Clear() { lock (_items) { _items.Clear(); } }
        public bool Contains(Activity item) { lock (_items) { return _items.Contains(item); } }
        public void CopyTo(Activity[] array, int arrayIndex) { lock (_items) { _items.CopyTo(array, arrayIndex); } }
        public bool Remove(Activity item) { lock (_items) { return _items.Remove(item); } }
        public IEnumerator<Activity> GetEnumerator() => Snapshot().GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
