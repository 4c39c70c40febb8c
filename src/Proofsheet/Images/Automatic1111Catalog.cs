using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Proofsheet.Images;

/// <summary>What a server has installed, matched against what <c>Images:Automatic1111</c> asks for.</summary>
/// <param name="Problem">One sentence naming the setting and the valid values, or null when everything is there.</param>
/// <param name="ModelName">The configured checkpoint's <c>model_name</c> (what txt2img's info reports), when one is configured.</param>
/// <param name="ModelHash">Its short hash, when the server has computed it.</param>
/// <param name="Sampler">The configured sampler's canonical name (an alias is reported under it).</param>
internal sealed record Automatic1111Check(string? Problem, string? ModelName, string? ModelHash, string? Sampler, string? LoadedModel);

/// <summary>
/// Checks the configured checkpoint, sampler and scheduler against <c>/sd-models</c>, <c>/samplers</c> and
/// <c>/schedulers</c>. The servers do not refuse unknown names: an unknown checkpoint override is dropped
/// and an unknown sampler or scheduler becomes the default, so a typo would render with something else.
/// Answers are kept for a minute per server, so a job does not pay three calls.
/// </summary>
public sealed class Automatic1111Catalog(IHttpClientFactory httpFactory, IOptionsMonitor<Automatic1111Options> options, TimeProvider time)
{
    private static readonly TimeSpan Fresh = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<Uri, (DateTimeOffset At, string Settings, Automatic1111Check Check)> _cache = new();

    internal async Task<Automatic1111Check> CheckAsync(Uri server, bool fresh, CancellationToken ct)
    {
        var o = options.CurrentValue;
        var settings = $"{o.Checkpoint}\n{o.SamplerName}\n{o.Scheduler}";
        if (!fresh && _cache.TryGetValue(server, out var hit) && hit.Settings == settings && time.GetUtcNow() - hit.At < Fresh && hit.Check.Problem is null)
        {
            return hit.Check;
        }
        var check = await FetchAsync(server, o, ct);
        _cache[server] = (time.GetUtcNow(), settings, check);
        return check;
    }

    private async Task<Automatic1111Check> FetchAsync(Uri server, Automatic1111Options o, CancellationToken ct)
    {
        var http = httpFactory.CreateClient(Automatic1111Generator.HttpClientName);
        var where = ServerList.Display(server);
        using var models = await GetArrayAsync(http, server, "sdapi/v1/sd-models", o, ct);
        var list = models!.RootElement.EnumerateArray().ToList();
        if (list.Count == 0)
        {
            return new Automatic1111Check($"{where} has no checkpoints installed.", null, null, null, null);
        }
        string? modelName = null, modelHash = null;
        if (!string.IsNullOrWhiteSpace(o.Checkpoint))
        {
            var wanted = o.Checkpoint.Trim();
            var match = list.FirstOrDefault(m => Aliases(m).Contains(wanted, StringComparer.Ordinal));
            if (match.ValueKind != JsonValueKind.Object)
            {
                var titles = list.Select(m => BackendHttp.StringProperty(m, "title") ?? BackendHttp.StringProperty(m, "model_name")).OfType<string>();
                return new Automatic1111Check(
                    $"Images:Automatic1111:Checkpoint \"{wanted}\" is not a checkpoint on {where}; it has: {BackendHttp.Shorten(string.Join(", ", titles), 600)}.",
                    null, null, null, null);
            }
            modelName = BackendHttp.StringProperty(match, "model_name");
            modelHash = BackendHttp.StringProperty(match, "hash");
        }

        string? sampler = null;
        if (!string.IsNullOrWhiteSpace(o.SamplerName))
        {
            using var samplers = await GetArrayAsync(http, server, "sdapi/v1/samplers", o, ct);
            var all = samplers!.RootElement.EnumerateArray().ToList();
            var wanted = o.SamplerName.Trim();
            var match = all.FirstOrDefault(s => BackendHttp.StringProperty(s, "name") == wanted
                || (s.TryGetProperty("aliases", out var a) && a.ValueKind == JsonValueKind.Array && a.EnumerateArray().Any(x => x.ValueKind == JsonValueKind.String && x.GetString() == wanted)));
            if (match.ValueKind != JsonValueKind.Object)
            {
                return new Automatic1111Check(
                    $"Images:Automatic1111:SamplerName \"{wanted}\" is not a sampler on {where}; it has: {string.Join(", ", all.Select(s => BackendHttp.StringProperty(s, "name")).OfType<string>())}.",
                    null, null, null, null);
            }
            sampler = BackendHttp.StringProperty(match, "name");
        }

        if (!string.IsNullOrWhiteSpace(o.Scheduler))
        {
            // /schedulers exists from v1.9 on; older servers have no scheduler setting to get wrong.
            using var schedulers = await GetArrayAsync(http, server, "sdapi/v1/schedulers", o, ct, notFoundIsEmpty: true);
            if (schedulers is not null)
            {
                var all = schedulers.RootElement.EnumerateArray().ToList();
                var wanted = o.Scheduler.Trim();
                if (!all.Any(s => BackendHttp.StringProperty(s, "name") == wanted || BackendHttp.StringProperty(s, "label") == wanted))
                {
                    return new Automatic1111Check(
                        $"Images:Automatic1111:Scheduler \"{wanted}\" is not a scheduler on {where}; it has: {string.Join(", ", all.Select(s => BackendHttp.StringProperty(s, "label")).OfType<string>())}.",
                        null, null, null, null);
                }
            }
        }

        using var settings = await GetAsync(http, server, "sdapi/v1/options", o, ct);
        var loaded = settings is null ? null : BackendHttp.StringProperty(settings.RootElement, "sd_model_checkpoint");
        return new Automatic1111Check(null, modelName, modelHash, sampler, loaded);
    }

    /// <summary>The names A1111 resolves a checkpoint by (sd_models.checkpoint_aliases): title, file name, model name, hashes.</summary>
    private static IEnumerable<string> Aliases(JsonElement model)
    {
        foreach (var key in new[] { "title", "model_name", "hash", "sha256" })
        {
            if (BackendHttp.StringProperty(model, key) is { Length: > 0 } v)
            {
                yield return v;
            }
        }
        if (BackendHttp.StringProperty(model, "filename") is { Length: > 0 } file)
        {
            yield return Path.GetFileName(file);
        }
        if (BackendHttp.StringProperty(model, "title") is { } title && title.IndexOf(" [", StringComparison.Ordinal) is > 0 and var cut)
        {
            yield return title[..cut];
        }
    }

    private static async Task<JsonDocument?> GetArrayAsync(HttpClient http, Uri server, string path, Automatic1111Options o, CancellationToken ct, bool notFoundIsEmpty = false)
    {
        var doc = await GetAsync(http, server, path, o, ct, notFoundIsEmpty);
        if (doc is not null && doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            doc.Dispose();
            throw new ImageGenerationException($"{ServerList.Display(server)} answered {path} with something other than a list.");
        }
        return doc;
    }

    private static async Task<JsonDocument?> GetAsync(HttpClient http, Uri server, string path, Automatic1111Options o, CancellationToken ct, bool notFoundIsEmpty = false)
    {
        using var message = Automatic1111Client.Get(server, path, o);
        using var response = await http.SendAsync(message, ct);
        if (notFoundIsEmpty && (int)response.StatusCode == 404)
        {
            return null;
        }
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new ImageGenerationException(Automatic1111Client.DescribeError(server, (int)response.StatusCode, BackendHttp.Shorten(text, 4000)));
        }
        return BackendHttp.TryParse(text) ?? throw new ImageGenerationException($"{ServerList.Display(server)} answered {path} with a body that is not JSON.");
    }
}
