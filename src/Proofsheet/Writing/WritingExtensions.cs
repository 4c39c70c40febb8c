using Microsoft.Extensions.Options;
using Proofsheet.Health;

namespace Proofsheet.Writing;

public static class WritingExtensions
{
    public static WebApplicationBuilder AddWriting(this WebApplicationBuilder builder)
    {
        builder.Services.AddArticleWriters();
        // Only a writer in use is checked; the offline outline writer has nothing to reach.
        var provider = builder.Configuration[$"{ContentOptions.Section}:Provider"]?.Trim().ToLowerInvariant();
        if (provider is "openai" or "anthropic")
        {
            builder.Services.AddHttpClient(WriterHealthCheck.HttpClientName);
            builder.Services.AddHealthChecks().AddCachedCheck<WriterHealthCheck>("writer:" + provider);
        }
        return builder;
    }

    /// <summary>The writers and their options; split from <see cref="AddWriting"/> so tests can build them without a host.</summary>
    internal static IServiceCollection AddArticleWriters(this IServiceCollection services)
    {
        services.AddSection<ContentOptions>(ContentOptions.Section)
            .Validate(o => KnownWriters.Contains(o.Provider.Trim().ToLowerInvariant()),
                $"Content:Provider must be one of: {string.Join(", ", KnownWriters)}.");
        services.AddSingleton<IArticleWriter, OutlineWriter>();

        services.AddSection<OpenAIWriterOptions>(OpenAIWriterOptions.Section);
        services.AddSingleton<IValidateOptions<OpenAIWriterOptions>, OpenAIWriterOptionsValidator>();
        services.AddModelHttpClient<OpenAIWriterOptions, OpenAIWriter>(OpenAIWriter.HttpClientName);
        services.AddSingleton<IArticleWriter, OpenAIWriter>();

        services.AddSection<AnthropicWriterOptions>(AnthropicWriterOptions.Section);
        services.AddSingleton<IValidateOptions<AnthropicWriterOptions>, AnthropicWriterOptionsValidator>();
        services.AddModelHttpClient<AnthropicWriterOptions, AnthropicWriter>(AnthropicWriter.HttpClientName)
            .AddHttpMessageHandler(sp => new AnthropicHeadersHandler(sp.GetRequiredService<IOptions<AnthropicWriterOptions>>().Value));
        services.AddSingleton<IArticleWriter, AnthropicWriter>();

        services.AddSingleton(sp =>
        {
            var name = sp.GetRequiredService<IOptions<ContentOptions>>().Value.Provider.Trim();
            return new ActiveWriter(sp.GetServices<IArticleWriter>().First(w => string.Equals(w.Name, name, StringComparison.OrdinalIgnoreCase)));
        });
        return services;
    }

    private static IHttpClientBuilder AddModelHttpClient<TOptions, TWriter>(this IServiceCollection services, string name) where TOptions : ModelEndpointOptions
    {
        return services.AddHttpClient(name)
            // Each attempt is timed by the resilience handler; HttpClient's own limit would cut across the retries.
            .ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan)
            .AddHttpMessageHandler(sp => new ModelHttpResilienceHandler(
                sp.GetRequiredService<IOptions<TOptions>>().Value,
                sp.GetRequiredService<ILogger<TWriter>>()));
    }

    /// <summary>The writers that exist; a backend is listed here only once it works.</summary>
    public static readonly string[] KnownWriters = ["outline", "openai", "anthropic"];
}

/// <summary>The writer chosen by <c>Content:Provider</c>.</summary>
public sealed record ActiveWriter(IArticleWriter Writer);
