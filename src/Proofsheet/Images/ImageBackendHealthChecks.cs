using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Proofsheet.Images;

/// <summary>
/// AUTOMATIC1111: every server in the pool is asked for its checkpoints, samplers and schedulers, and the
/// configured ones must be there (the server would otherwise render with others without a word). Healthy
/// when all servers pass, degraded when only some do. Reports servers by host and port only, and the model
/// the last job rendered with (the server's own options are restored after each job).
/// </summary>
public sealed class Automatic1111HealthCheck(
    IOptionsMonitor<Automatic1111Options> options,
    Automatic1111Catalog catalog,
    [FromKeyedServices(Automatic1111Generator.HttpClientName)] ServerPool pool) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var servers = options.CurrentValue.Servers;
        if (servers.Count == 0)
        {
            return HealthCheckResult.Unhealthy("Images:Automatic1111:BaseUrls is not set.");
        }
        var reports = await Task.WhenAll(servers.Select(s => CheckServerAsync(s, cancellationToken)));
        var data = new Dictionary<string, object>();
        for (var i = 0; i < servers.Count; i++)
        {
            data[ServerList.Display(servers[i])] = reports[i].Status;
        }
        var ok = reports.Count(r => r.Ok);
        // The health page shows the description: each server's state, the model of its last job included, is in it.
        var problems = reports.Where(r => !r.Ok).Select(r => r.Problem).OfType<string>().Distinct().ToList();
        var states = servers.Select((s, i) => reports[i].Problem is null ? $"{ServerList.Display(s)}: {reports[i].Status}." : null).OfType<string>();
        var summary = string.Join(" ", new[] { $"{ok} of {servers.Count} AUTOMATIC1111 server(s) ready." }.Concat(problems).Concat(states));
        return ok == servers.Count ? HealthCheckResult.Healthy(summary, data)
            : ok > 0 ? HealthCheckResult.Degraded(summary, data: data)
            : HealthCheckResult.Unhealthy(summary, data: data);
    }

    private async Task<(bool Ok, string Status, string? Problem)> CheckServerAsync(Uri server, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            var check = await catalog.CheckAsync(server, fresh: true, timeout.Token);
            if (check.Problem is not null)
            {
                return (false, check.Problem, check.Problem);
            }
            var view = pool.View(server);
            var status = view.LastModel is { } last ? $"ready, last job rendered with {last}"
                : check.LoadedModel is { } loaded ? $"ready, model {loaded} loaded (no job yet)"
                : "ready";
            if (view.RunningOurJob)
            {
                status += "; rendering our job now";
            }
            return (true, status, null);
        }
        catch (ImageGenerationException ex)
        {
            return (false, ex.Message, ex.Message);
        }
        catch (HttpRequestException ex)
        {
            return (false, BackendHttp.Describe(ex), null);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (false, "did not answer within 5 s", null);
        }
    }
}

/// <summary>OpenAI images: <c>GET /models</c> with the key proves the endpoint is reachable and the key accepted.</summary>
public sealed class OpenAIImageHealthCheck(IHttpClientFactory httpFactory, IOptionsMonitor<OpenAIImageOptions> options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var o = options.CurrentValue;
        if (string.IsNullOrWhiteSpace(o.ApiKey))
        {
            return HealthCheckResult.Unhealthy("Images:OpenAI:ApiKey is not set.");
        }
        var baseUri = OpenAIImageGenerator.BaseUri(o);
        var data = new Dictionary<string, object> { ["endpoint"] = ServerList.Display(baseUri), ["model"] = o.Model };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, "models"));
            message.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", o.ApiKey);
            using var response = await httpFactory.CreateClient(OpenAIImageGenerator.HttpClientName).SendAsync(message, timeout.Token);
            if ((int)response.StatusCode == 401)
            {
                return HealthCheckResult.Unhealthy("The API key was rejected (401).", data: data);
            }
            if (!response.IsSuccessStatusCode)
            {
                return HealthCheckResult.Unhealthy($"GET /models answered {(int)response.StatusCode}.", data: data);
            }
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(timeout.Token));
            var listed = doc.RootElement.TryGetProperty("data", out var models) && models.ValueKind == JsonValueKind.Array
                && models.EnumerateArray().Any(m => BackendHttp.StringProperty(m, "id") == o.Model);
            data["model_listed"] = listed;
            return listed
                ? HealthCheckResult.Healthy($"Reachable; model {o.Model} available.", data)
                : HealthCheckResult.Degraded($"Reachable, but model {o.Model} is not in the model list.", data: data);
        }
        catch (HttpRequestException ex)
        {
            return HealthCheckResult.Unhealthy($"Unreachable: {BackendHttp.Describe(ex)}.", data: data);
        }
        catch (JsonException)
        {
            return HealthCheckResult.Unhealthy("GET /models answered with a body that is not JSON.", data: data);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("GET /models did not answer within 10 s.", data: data);
        }
    }
}

/// <summary>
/// Pexels: no request is made, because every search counts against the quota (200 an hour, 20,000 a month).
/// The check reports whether a key is configured and what the last answer said about the monthly quota
/// (Pexels' <c>X-Ratelimit-*</c> headers count the month, not the hour).
/// </summary>
public sealed class PexelsHealthCheck(PexelsGenerator pexels, IOptionsMonitor<PexelsOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(options.CurrentValue.ApiKey))
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("Images:Pexels:ApiKey is not set."));
        }
        var (remaining, reset, blockedUntil) = pexels.RateLimit;
        var data = new Dictionary<string, object> { ["checked"] = "configuration only (a search would count against the quota)" };
        if (remaining is { } r)
        {
            data["requests left this month"] = r;
        }
        if (reset is { } when)
        {
            data["monthly quota renews"] = when.ToString("u", System.Globalization.CultureInfo.InvariantCulture);
        }
        return Task.FromResult(blockedUntil is { } until
            ? HealthCheckResult.Degraded($"Pexels is paused until {until:u}: its rate limit or monthly quota was reached.", data: data)
            : HealthCheckResult.Healthy("Configured with an API key.", data));
    }
}

/// <summary>ComfyUI: <c>GET /system_stats</c> on every server of the pool (reachable, and which device it runs on).</summary>
public sealed class ComfyUIHealthCheck(
    IHttpClientFactory httpFactory,
    IOptionsMonitor<ComfyUIOptions> options,
    [FromKeyedServices(ComfyUIGenerator.HttpClientName)] ServerPool pool) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var servers = options.CurrentValue.Servers;
        if (servers.Count == 0)
        {
            return HealthCheckResult.Unhealthy("Images:ComfyUI:BaseUrls is not set.");
        }
        var http = httpFactory.CreateClient(ComfyUIGenerator.HttpClientName);
        var reports = await Task.WhenAll(servers.Select(s => CheckServerAsync(http, s, cancellationToken)));
        var data = new Dictionary<string, object>();
        for (var i = 0; i < servers.Count; i++)
        {
            var view = pool.View(servers[i]);
            data[ServerList.Display(servers[i])] = reports[i].Status + (view.RunningOurJob ? "; rendering our job now" : "");
        }
        var ok = reports.Count(r => r.Ok);
        var summary = $"{ok} of {servers.Count} ComfyUI server(s) reachable.";
        return ok == servers.Count ? HealthCheckResult.Healthy(summary, data)
            : ok > 0 ? HealthCheckResult.Degraded(summary, data: data)
            : HealthCheckResult.Unhealthy(summary, data: data);
    }

    private static async Task<(bool Ok, string Status)> CheckServerAsync(HttpClient http, Uri server, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            using var response = await http.GetAsync(new Uri(server, "system_stats"), timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                return (false, $"system_stats answered {(int)response.StatusCode}");
            }
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(timeout.Token));
            var version = doc.RootElement.TryGetProperty("system", out var system) ? BackendHttp.StringProperty(system, "comfyui_version") : null;
            var device = doc.RootElement.TryGetProperty("devices", out var devices) && devices.ValueKind == JsonValueKind.Array && devices.GetArrayLength() > 0
                ? BackendHttp.StringProperty(devices[0], "name") : null;
            return (true, $"reachable{(version is null ? "" : $", ComfyUI {version}")}{(device is null ? "" : $", {device}")}");
        }
        catch (HttpRequestException ex)
        {
            return (false, BackendHttp.Describe(ex));
        }
        catch (JsonException)
        {
            return (false, "answered with a body that is not JSON");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (false, "did not answer within 5 s");
        }
    }
}
