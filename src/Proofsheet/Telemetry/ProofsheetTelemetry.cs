using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;

namespace Proofsheet.Telemetry;

/// <summary>
/// The app's own spans and metrics. Everything is recorded through one <see cref="ActivitySource"/>
/// and one <see cref="Meter"/>: with no listener (no exporter configured, nobody scraping) a span
/// is never created and a measurement costs a null check.
/// </summary>
public static class ProofsheetTelemetry
{
    public const string Name = "Proofsheet";

    public static readonly ActivitySource Source = new(Name);
    public static readonly Meter Meter = new(Name);

    public static readonly Histogram<double> QueueWait = Meter.CreateHistogram<double>(
        "proofsheet.queue.wait", "s", "Time a task's step waited between becoming due and a runner starting it.");

    public static readonly Histogram<double> StepDuration = Meter.CreateHistogram<double>(
        "proofsheet.step.duration", "s", "How long one step of a task took (writing, generating_images, publishing), by backend and outcome.");

    public static readonly Histogram<double> BackendDuration = Meter.CreateHistogram<double>(
        "proofsheet.backend.duration", "s", "How long one call to a writer, image backend or publishing store took.");

    public static readonly Counter<long> BackendErrors = Meter.CreateCounter<long>(
        "proofsheet.backend.errors", "{error}", "Failed calls to a writer, image backend or publishing store, by kind of failure.");

    public static readonly Histogram<long> CandidatesPerApproval = Meter.CreateHistogram<long>(
        "proofsheet.approval.candidates", "{image}", "How many candidate images a task had when it was approved.");

    public static readonly Histogram<double> ApprovalLatency = Meter.CreateHistogram<double>(
        "proofsheet.approval.latency", "s", "Time from a task awaiting approval to its approval.");

    public static readonly Counter<long> Uploads = Meter.CreateCounter<long>(
        "proofsheet.uploads", "{upload}", "Approved images uploaded to the publishing store, by store and outcome.");

    /// <summary>
    /// A new trace for one step of a task, whatever was current (a request that queued it, another
    /// task's step on this thread): the writer, backend, upload and HTTP spans of the step nest under it.
    /// </summary>
    public static Activity? StartStep(string taskId, string step)
    {
        Activity.Current = null;
        var activity = Source.StartActivity($"task {step}", ActivityKind.Internal);
        activity?.SetTag("proofsheet.task_id", taskId);
        activity?.SetTag("proofsheet.step", step);
        return activity;
    }

    /// <summary>A span for one call to a backend, under the current step.</summary>
    public static Activity? StartBackendCall(string kind, string backend)
    {
        var activity = Source.StartActivity($"{kind} {backend}", ActivityKind.Internal);
        activity?.SetTag("proofsheet.backend", backend);
        activity?.SetTag("proofsheet.backend.kind", kind);
        return activity;
    }

    /// <summary>Records a failed backend call on its span and in the error counter.</summary>
    public static void Failed(Activity? activity, string backend, Exception ex)
    {
        var kind = ErrorKind(ex);
        activity?.SetStatus(ActivityStatusCode.Error, kind);
        activity?.SetTag("error.type", kind);
        BackendErrors.Add(1, new KeyValuePair<string, object?>("backend", backend), new KeyValuePair<string, object?>("kind", kind));
    }

    /// <summary>A small fixed set of failure kinds, so the error counter has few series.</summary>
    public static string ErrorKind(Exception ex) => ex switch
    {
        OperationCanceledException or TimeoutException => "timeout",
        HttpRequestException { StatusCode: HttpStatusCode.TooManyRequests } => "rate_limited",
        HttpRequestException { StatusCode: >= HttpStatusCode.InternalServerError } => "server_error",
        HttpRequestException { StatusCode: not null } => "client_error",
        HttpRequestException => "unreachable",
        System.Text.Json.JsonException or FormatException => "bad_response",
        _ when ex.InnerException is { } inner && inner is not AggregateException && ErrorKind(inner) is var k && k != "other" => k,
        // The GPU server pools report each server's failure in words (BackendHttp.Describe), not as an inner exception.
        _ when Says(ex, "out of memory") => "out_of_memory",
        _ when Says(ex, "timed out") => "timeout",
        _ when Says(ex, "could not connect") || Says(ex, "did not resolve") || Says(ex, "closed the connection") => "unreachable",
        _ when Says(ex, "HTTP 429") => "rate_limited",
        _ when Says(ex, "HTTP 5") => "server_error",
        _ when Says(ex, "HTTP 4") => "client_error",
        _ => "other",
    };

    private static bool Says(Exception ex, string words) => ex.Message.Contains(words, StringComparison.OrdinalIgnoreCase);
}
