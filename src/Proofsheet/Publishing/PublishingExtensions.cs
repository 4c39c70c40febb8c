using Microsoft.Extensions.Options;

namespace Proofsheet.Publishing;

public static class PublishingExtensions
{
    public static WebApplicationBuilder AddPublishing(this WebApplicationBuilder builder)
    {
        builder.Services.AddSection<PublishingOptions>(PublishingOptions.Section)
            .Validate(o => KnownStores.Contains(o.Provider.Trim().ToLowerInvariant()),
                $"Publishing:Provider must be one of: {string.Join(", ", KnownStores)}.");
        builder.Services.AddSingleton<PublicUrls>();
        builder.Services.AddSingleton<IPublishingStore, LocalPublishingStore>();
        builder.Services.AddSingleton(sp =>
        {
            var name = sp.GetRequiredService<IOptions<PublishingOptions>>().Value.Provider.Trim();
            return new ActiveStore(sp.GetServices<IPublishingStore>().First(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)));
        });
        return builder;
    }

    /// <summary>The publishing stores that exist; a store is listed here only once it works.</summary>
    public static readonly string[] KnownStores = ["local"];
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
