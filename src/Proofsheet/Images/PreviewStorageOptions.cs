using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Proofsheet.Images;

/// <summary><c>Storage:Previews</c>: where candidates wait for review.</summary>
public sealed class PreviewStorageOptions
{
    public const string Section = "Storage:Previews";
    public static readonly string[] Providers = ["local", "s3"];

    /// <summary><c>local</c> (the folder <c>Storage:PreviewDirectory</c>) or <c>s3</c>.</summary>
    public string Provider { get; set; } = "local";
    public PreviewS3Options S3 { get; set; } = new();

    public bool IsS3 => string.Equals(Provider?.Trim(), "s3", StringComparison.OrdinalIgnoreCase);
}

/// <summary><c>Storage:Previews:S3</c>: any S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, …). Not public: previews are served by the app.</summary>
public sealed class PreviewS3Options : Storage.IS3Connection
{
    public string? ServiceUrl { get; set; }
    public string? Bucket { get; set; }
    /// <summary>Previews are kept under <c>{Prefix}/</c>, so the bucket may hold other things (the sweeps touch only preview names).</summary>
    public string? Prefix { get; set; }
    public string? AccessKey { get; set; }
    public string? SecretKey { get; set; }
    public string Region { get; set; } = "us-east-1";
    /// <summary>Most S3-compatible stores (MinIO, R2, s3rver) want <c>{endpoint}/{bucket}/{key}</c>.</summary>
    public bool ForcePathStyle { get; set; } = true;
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>Checked at start: an unknown provider, or the s3 provider without its keys, stops the app with a message naming the keys (never their values).</summary>
internal sealed class PreviewStorageOptionsValidator : IValidateOptions<PreviewStorageOptions>
{
    public ValidateOptionsResult Validate(string? name, PreviewStorageOptions options)
    {
        var provider = options.Provider?.Trim().ToLowerInvariant() ?? "";
        if (!PreviewStorageOptions.Providers.Contains(provider))
        {
            return ValidateOptionsResult.Fail(
                $"{PreviewStorageOptions.Section}:Provider must be one of: {string.Join(", ", PreviewStorageOptions.Providers)} (it is '{options.Provider}').");
        }
        if (provider != "s3")
        {
            return ValidateOptionsResult.Success;
        }
        var s3 = options.S3;
        var errors = new (string Key, string? Value)[] { ("Bucket", s3.Bucket), ("AccessKey", s3.AccessKey), ("SecretKey", s3.SecretKey), ("Region", s3.Region) }
            .Where(r => string.IsNullOrWhiteSpace(r.Value))
            .Select(r => $"{PreviewStorageOptions.Section}:Provider is s3 but {PreviewStorageOptions.Section}:S3:{r.Key} is not set.")
            .ToList();
        if (!string.IsNullOrWhiteSpace(s3.ServiceUrl)
            && !(Uri.TryCreate(s3.ServiceUrl, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)))
        {
            errors.Add($"{PreviewStorageOptions.Section}:S3:ServiceUrl must be an absolute http(s) URL.");
        }
        if (s3.Timeout <= TimeSpan.Zero)
        {
            errors.Add($"{PreviewStorageOptions.Section}:S3:Timeout must be positive.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary><c>storage:previews</c> in <c>/health/ready</c>: a node that cannot write previews cannot take generation work.</summary>
internal sealed class PreviewStoreHealthCheck(IPreviewStore store) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        store.CheckHealthAsync(cancellationToken);
}

public static class PreviewStorageExtensions
{
    /// <summary>The preview store chosen by <c>Storage:Previews:Provider</c>, its readiness check and its 503 for outages.</summary>
    public static WebApplicationBuilder AddPreviewStore(this WebApplicationBuilder builder)
    {
        builder.Services.AddPreviewStore();
        return builder;
    }

    public static IServiceCollection AddPreviewStore(this IServiceCollection services)
    {
        services.AddSection<PreviewStorageOptions>(PreviewStorageOptions.Section);
        services.AddSingleton<IValidateOptions<PreviewStorageOptions>, PreviewStorageOptionsValidator>();
        services.AddSingleton<LocalPreviewStore>();
        services.AddSingleton<S3PreviewStore>();
        services.AddSingleton<IPreviewStore>(sp => sp.GetRequiredService<IOptions<PreviewStorageOptions>>().Value.IsS3
            ? sp.GetRequiredService<S3PreviewStore>()
            : sp.GetRequiredService<LocalPreviewStore>());
        services.AddSingleton<PreviewDerivatives>();
        services.AddExceptionHandler<PreviewStoreUnavailableHandler>();
        services.AddHealthChecks().AddCheck<PreviewStoreHealthCheck>("storage:previews", tags: [Health.HealthExtensions.ReadyTag]);
        return services;
    }
}
