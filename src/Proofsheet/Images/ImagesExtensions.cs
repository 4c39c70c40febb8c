using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Proofsheet.Images;

public static class ImagesExtensions
{
    /// <summary>Health checks of the configured image backends carry this tag.</summary>
    public const string BackendHealthTag = Health.HealthExtensions.BackendTag;

    public static WebApplicationBuilder AddImages(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSection<ImageOptions>(ImageOptions.Section)
            .Validate(o => o.ProviderChain.Count > 0 && o.ProviderChain.All(KnownGenerators.Contains),
                $"Images:Providers must name one or more of: {string.Join(", ", KnownGenerators)}.")
            .Validate(o => o.DefaultVariations <= o.MaxVariations, "Images:DefaultVariations must not exceed Images:MaxVariations.");
        services.AddSection<CircuitBreakerOptions>(CircuitBreakerOptions.Section)
            .Validate(o => o.BreakDuration >= TimeSpan.Zero && o.BackendTimeout > TimeSpan.Zero,
                "Images:CircuitBreaker:BreakDuration must not be negative and BackendTimeout must be positive.");
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<BackendCircuitBreaker>();
        services.AddSingleton<ImageGeneratorChain>();
        // The one way an A1111 or ComfyUI job gets a server. A multi-node deployment replaces this with a
        // cluster-wide implementation registered before AddImages (TryAdd keeps it).
        services.TryAddSingleton<IServerSlots, InProcessServerSlots>();

        services.AddSingleton<IImageGenerator, TitleCardGenerator>();
        AddAutomatic1111(services);
        AddComfyUI(services);
        AddOpenAI(services);
        AddPexels(services);

        // Only the backends in the chain are checked: an unused backend's state says nothing about readiness.
        var chain = new ImageOptions { Providers = builder.Configuration[$"{ImageOptions.Section}:Providers"] ?? new ImageOptions().Providers }.ProviderChain;
        var health = services.AddHealthChecks();
        if (chain.Contains("automatic1111"))
        {
            health.AddCheck<Automatic1111HealthCheck>("images:automatic1111", tags: [BackendHealthTag]);
        }
        if (chain.Contains("comfyui"))
        {
            health.AddCheck<ComfyUIHealthCheck>("images:comfyui", tags: [BackendHealthTag]);
        }
        if (chain.Contains("openai"))
        {
            health.AddCheck<OpenAIImageHealthCheck>("images:openai", tags: [BackendHealthTag]);
        }
        if (chain.Contains("pexels"))
        {
            health.AddCheck<PexelsHealthCheck>("images:pexels", tags: [BackendHealthTag]);
        }
        return builder;
    }

    /// <summary>The image backends that exist; a backend is listed here only once it works.</summary>
    public static readonly string[] KnownGenerators = ["titlecard", "automatic1111", "comfyui", "openai", "pexels"];

    private static bool InChain(ImageOptions images, string name) => images.ProviderChain.Contains(name);

    private static void AddAutomatic1111(IServiceCollection services)
    {
        services.AddSection<Automatic1111Options>(Automatic1111Options.Section)
            .Validate<IOptions<ImageOptions>>((o, images) => !InChain(images.Value, "automatic1111") || (o.Servers.Count > 0 && ServerList.AllValid(o.BaseUrls)),
                "Images:Providers names automatic1111, so Images:Automatic1111:BaseUrls must list one or more http(s) server addresses, comma-separated (e.g. http://127.0.0.1:7860; the server must run with --api).")
            .Validate(o => o.Timeout > TimeSpan.Zero && o.ProgressInterval > TimeSpan.Zero,
                "Images:Automatic1111:Timeout and :ProgressInterval must be positive.");
        // Timeouts are per call (CancellationTokenSource), so that they surface as a clear backend error.
        services.AddHttpClient(Automatic1111Generator.HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan);
        services.AddKeyedSingleton(Automatic1111Generator.HttpClientName, (sp, _) => NewPool(sp, "AUTOMATIC1111"));
        services.AddSingleton<Automatic1111Catalog>();
        services.AddSingleton<Automatic1111Generator>();
        services.AddSingleton<IImageGenerator>(sp => sp.GetRequiredService<Automatic1111Generator>());
    }

    private static ServerPool NewPool(IServiceProvider sp, string backend) =>
        new(backend, sp.GetRequiredService<IServerSlots>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>().CreateLogger<ServerPool>());

    private static bool IsHttpUrl(string? value) =>
        Uri.TryCreate(value?.Trim(), UriKind.Absolute, out var u) && u.Scheme is "http" or "https";

    private static void AddOpenAI(IServiceCollection services)
    {
        services.AddSection<OpenAIImageOptions>(OpenAIImageOptions.Section)
            .Validate<IOptions<ImageOptions>>((o, images) => !InChain(images.Value, "openai")
                    || (!string.IsNullOrWhiteSpace(o.ApiKey) && IsHttpUrl(o.BaseUrl) && !string.IsNullOrWhiteSpace(o.Model)),
                "Images:Providers names openai, so Images:OpenAI:ApiKey must be set, Images:OpenAI:BaseUrl must be an http(s) URL and Images:OpenAI:Model must name a model.")
            .Validate(o => o.Timeout > TimeSpan.Zero && o.MaxRetryDelay >= TimeSpan.Zero,
                "Images:OpenAI:Timeout must be positive and :MaxRetryDelay not negative.");
        services.AddHttpClient(OpenAIImageGenerator.HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan);
        services.AddSingleton<IImageGenerator, OpenAIImageGenerator>();
    }

    private static void AddPexels(IServiceCollection services)
    {
        services.AddSection<PexelsOptions>(PexelsOptions.Section)
            .Validate<IOptions<ImageOptions>>((o, images) => !InChain(images.Value, "pexels") || (!string.IsNullOrWhiteSpace(o.ApiKey) && IsHttpUrl(o.BaseUrl)),
                "Images:Providers names pexels, so Images:Pexels:ApiKey must be set and Images:Pexels:BaseUrl must be an http(s) URL.")
            .Validate(o => o.Timeout > TimeSpan.Zero && o.RateLimitBackoff >= TimeSpan.Zero,
                "Images:Pexels:Timeout must be positive and :RateLimitBackoff not negative.");
        services.AddHttpClient(PexelsGenerator.HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan);
        services.AddSingleton<PexelsGenerator>();
        services.AddSingleton<IImageGenerator>(sp => sp.GetRequiredService<PexelsGenerator>());
    }

    private static void AddComfyUI(IServiceCollection services)
    {
        services.AddSection<ComfyUIOptions>(ComfyUIOptions.Section)
            .Validate<IOptions<ImageOptions>>((o, images) => !InChain(images.Value, "comfyui") || (o.Servers.Count > 0 && ServerList.AllValid(o.BaseUrls)),
                "Images:Providers names comfyui, so Images:ComfyUI:BaseUrls must list one or more http(s) server addresses, comma-separated (e.g. http://127.0.0.1:8188).")
            .Validate(o => o.Timeout > TimeSpan.Zero, "Images:ComfyUI:Timeout must be positive.");
        services.AddHttpClient(ComfyUIGenerator.HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan);
        services.AddKeyedSingleton(ComfyUIGenerator.HttpClientName, (sp, _) => NewPool(sp, "ComfyUI"));
        services.AddSingleton<ComfyUIGenerator>();
        services.AddSingleton<IImageGenerator>(sp => sp.GetRequiredService<ComfyUIGenerator>());
    }
}
