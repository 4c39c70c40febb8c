using System.ComponentModel.DataAnnotations;

namespace Proofsheet.Images;

/// <summary>Splits a comma-separated list of server addresses into absolute base URIs.</summary>
internal static class ServerList
{
    public static IReadOnlyList<Uri> Parse(string? value) =>
        (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => Uri.TryCreate(s.TrimEnd('/') + "/", UriKind.Absolute, out var u) && u.Scheme is "http" or "https" ? u : null)
            .OfType<Uri>()
            .ToList();

    public static bool AllValid(string? value) =>
        (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Length == Parse(value).Count;

    /// <summary>A server's address for logs and health reports: scheme, host and port only, so that
    /// credentials written into a URL never leave the process.</summary>
    public static string Display(Uri server) => server.GetLeftPart(UriPartial.Authority);
}

public sealed class Automatic1111Options
{
    public const string Section = "Images:Automatic1111";
    /// <summary>One or more servers (comma-separated), all serving the same model: a pool.</summary>
    public string? BaseUrls { get; set; }
    /// <summary>For servers started with <c>--api-auth user:pass</c>.</summary>
    public string? Username { get; set; }
    public string? Password { get; set; }
    /// <summary>One txt2img call, including the wait behind other jobs on that server.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromMilliseconds(500);
    /// <summary>How long a server that failed is left out of the pool before it is tried again.</summary>
    public TimeSpan ServerCooldown { get; set; } = TimeSpan.FromSeconds(30);
    public string? SamplerName { get; set; } = "DPM++ 2M";
    public string? Scheduler { get; set; } = "Karras";
    [Range(0, 30)] public double CfgScale { get; set; } = 7;
    /// <summary>When set, sent as <c>override_settings.sd_model_checkpoint</c>; otherwise the server's loaded model is used.</summary>
    public string? Checkpoint { get; set; }

    public IReadOnlyList<Uri> Servers => ServerList.Parse(BaseUrls);

    public override string ToString() => $"AUTOMATIC1111 pool of {Servers.Count} server(s)";
}

public sealed class ComfyUIOptions
{
    public const string Section = "Images:ComfyUI";
    public string? BaseUrls { get; set; }
    [Required] public string Checkpoint { get; set; } = "sd_xl_base_1.0.safetensors";
    /// <summary>The whole job: queueing, sampling and fetching the images.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);
    public TimeSpan ServerCooldown { get; set; } = TimeSpan.FromSeconds(30);
    [Required] public string SamplerName { get; set; } = "dpmpp_2m";
    [Required] public string Scheduler { get; set; } = "karras";
    [Range(0, 100)] public double Cfg { get; set; } = 7;

    public IReadOnlyList<Uri> Servers => ServerList.Parse(BaseUrls);
}

public sealed class OpenAIImageOptions
{
    public const string Section = "Images:OpenAI";
    public string BaseUrl { get; set; } = "https://api.openai.com/v1";
    public string? ApiKey { get; set; }
    public string Model { get; set; } = "gpt-image-1";
    /// <summary>When empty, the supported size closest to the requested aspect ratio is used.</summary>
    public string? Size { get; set; }
    /// <summary>Sent to GPT image models only (<c>low</c>, <c>medium</c>, <c>high</c>, <c>auto</c>).</summary>
    public string? Quality { get; set; }
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(3);
    [Range(0, 10)] public int MaxRetries { get; set; } = 2;
    /// <summary>The longest wait honoured from <c>Retry-After</c>; a longer one is cut to this.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    public override string ToString() => $"OpenAI images {Model} at {BaseUrl}";
}

public sealed class PexelsOptions
{
    public const string Section = "Images:Pexels";
    public string BaseUrl { get; set; } = "https://api.pexels.com/v1";
    public string? ApiKey { get; set; }
    [Range(1, 80)] public int PerPage { get; set; } = 30;
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>How long to stop asking after a 429, which carries no reset time.</summary>
    public TimeSpan RateLimitBackoff { get; set; } = TimeSpan.FromMinutes(15);
    /// <summary>Photos whose description contains one of these words are not offered (comma-separated).</summary>
    public string Blocklist { get; set; } = "nude, naked, lingerie, bikini, underwear, sexy, erotic, blood, gore, weapon, gun, rifle, corpse, drugs, cigarette, smoking, alcohol";

    public override string ToString() => $"Pexels at {BaseUrl}";
}

public sealed class CircuitBreakerOptions
{
    public const string Section = "Images:CircuitBreaker";
    /// <summary>Consecutive failures after which a backend is skipped.</summary>
    [Range(1, 1000)] public int FailureThreshold { get; set; } = 3;
    /// <summary>How long a tripped backend is skipped before it is tried again.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromMinutes(2);
    /// <summary>The longest any one backend may take for its share of a request; past it the backend has failed.</summary>
    public TimeSpan BackendTimeout { get; set; } = TimeSpan.FromMinutes(10);
}
