using Proofsheet.Health;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Proofsheet.Publishing;

public static class PublishingExtensions
{
    public static WebApplicationBuilder AddPublishing(this WebApplicationBuilder builder)
    {
        builder.Services.AddSection<PublishingOptions>(PublishingOptions.Section)
            .Validate(o => KnownStores.Contains(o.Provider.Trim().ToLowerInvariant()),
                $"Publishing:Provider must be one of: {string.Join(", ", KnownStores)}.");
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddSingleton<PublicUrls>();
        // Keyed by name, so that only the configured store is ever made: the S3 store's construction
        // loads the AWS SDK, which an app publishing elsewhere never needs (start-up time, memory).
        builder.Services.AddKeyedSingleton<IPublishingStore, LocalPublishingStore>("local");

        builder.Services.AddSection<CloudinaryOptions>(CloudinaryOptions.Section);
        builder.Services.AddSingleton<IValidateOptions<CloudinaryOptions>, StoreOptionsValidator>();
        builder.Services.AddHttpClient<CloudinaryStore>(http => http.Timeout = Timeout.InfiniteTimeSpan)
            // The store lives as long as the app (ActiveStore holds it), so the handler must not rotate:
            // connections are recycled instead, which keeps DNS changes visible.
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan);
        builder.Services.AddKeyedSingleton<IPublishingStore>("cloudinary", (sp, _) => sp.GetRequiredService<CloudinaryStore>());

        builder.Services.AddSection<S3Options>(S3Options.Section);
        builder.Services.AddSingleton<IValidateOptions<S3Options>, StoreOptionsValidator>();
        builder.Services.AddKeyedSingleton<IPublishingStore, S3Store>("s3");

        builder.Services.AddSingleton(sp =>
        {
            var name = sp.GetRequiredService<IOptions<PublishingOptions>>().Value.Provider.Trim().ToLowerInvariant();
            return new ActiveStore(sp.GetRequiredKeyedService<IPublishingStore>(name));
        });
        // Only a remote store in use is checked, and its answer kept for a minute.
        var provider = builder.Configuration["Publishing:Provider"]?.Trim().ToLowerInvariant();
        if (provider is "s3" or "cloudinary")
        {
            builder.Services.AddHealthChecks().AddCachedCheck<PublishingHealthCheck>("publishing:" + provider);
        }
        return builder;
    }

    /// <summary>The publishing stores that exist; a store is listed here only once it works.</summary>
    public static readonly string[] KnownStores = ["local", "cloudinary", "s3"];
}

/// <summary>The store chosen by <c>Publishing:Provider</c>.</summary>
public sealed record ActiveStore(IPublishingStore Store);

public static class MediaFolderExtensions
{
    /// <summary>Serves the local store's published images at <c>/media/</c>, with a long cache lifetime.</summary>
    public static WebApplication MapMediaFolder(this WebApplication app)
    {
        var paths = app.Services.GetRequiredService<Data.AppPaths>();
        app.UseStaticFiles(new StaticFileOptions
        {
            RequestPath = "/media",
            FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(paths.MediaDirectory),
            ServeUnknownFileTypes = false,
            OnPrepareResponse = ctx =>
            {
                Images.MediaEndpoints.SetImageHeaders(ctx.Context.Response);
                ctx.Context.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
            },
        });
        return app;
    }
}

/// <summary>
/// A store's required keys are checked at start, but only for the store that is selected:
/// an unused provider's empty section is not an error. Messages name keys, never values.
/// </summary>
internal sealed class StoreOptionsValidator(IOptions<PublishingOptions> publishing) : IValidateOptions<CloudinaryOptions>, IValidateOptions<S3Options>
{
    public ValidateOptionsResult Validate(string? name, CloudinaryOptions options)
    {
        if (!Selected("cloudinary"))
        {
            return ValidateOptionsResult.Skip;
        }
        var errors = Missing(CloudinaryOptions.Section,
            ("CloudName", options.CloudName), ("ApiKey", options.ApiKey), ("ApiSecret", options.ApiSecret), ("BaseUrl", options.BaseUrl));
        if (!IsHttpUrl(options.BaseUrl))
        {
            errors.Add($"{CloudinaryOptions.Section}:BaseUrl must be an absolute http(s) URL.");
        }
        try
        {
            CloudinarySignature.ParseAlgorithm(options.SignatureAlgorithm);
        }
        catch (ArgumentException)
        {
            errors.Add($"{CloudinaryOptions.Section}:SignatureAlgorithm must be sha1 or sha256.");
        }
        if (options.Timeout <= TimeSpan.Zero)
        {
            errors.Add($"{CloudinaryOptions.Section}:Timeout must be positive.");
        }
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, S3Options options)
    {
        if (!Selected("s3"))
        {
            return ValidateOptionsResult.Skip;
        }
        var errors = Missing(S3Options.Section,
            ("Bucket", options.Bucket), ("AccessKey", options.AccessKey), ("SecretKey", options.SecretKey),
            ("PublicBaseUrl", options.PublicBaseUrl), ("Region", options.Region));
        if (!string.IsNullOrWhiteSpace(options.ServiceUrl) && !IsHttpUrl(options.ServiceUrl))
        {
            errors.Add($"{S3Options.Section}:ServiceUrl must be an absolute http(s) URL.");
        }
        if (!string.IsNullOrWhiteSpace(options.PublicBaseUrl) && !IsHttpUrl(options.PublicBaseUrl))
        {
            errors.Add($"{S3Options.Section}:PublicBaseUrl must be an absolute http(s) URL.");
        }
        if (options.Timeout <= TimeSpan.Zero)
        {
            errors.Add($"{S3Options.Section}:Timeout must be positive.");
        }
        return Result(errors);
    }

    private bool Selected(string store) => string.Equals(publishing.Value.Provider.Trim(), store, StringComparison.OrdinalIgnoreCase);

    private static List<string> Missing(string section, params (string Key, string? Value)[] required) =>
        required.Where(r => string.IsNullOrWhiteSpace(r.Value))
            .Select(r => $"Publishing:Provider is {section.Split(':')[1].ToLowerInvariant()} but {section}:{r.Key} is not set.")
            .ToList();

    private static bool IsHttpUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    private static ValidateOptionsResult Result(List<string> errors) =>
        errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
}
