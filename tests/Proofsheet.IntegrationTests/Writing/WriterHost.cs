using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.Writing;

namespace Proofsheet.IntegrationTests.Writing;

/// <summary>The writers as the app registers them, in a bare service collection with the given settings.</summary>
internal static class WriterHost
{
    /// <summary>Short waits so retries cost milliseconds; the services' own Retry-After values are capped by them.</summary>
    public static Dictionary<string, string?> Fast(string section, string baseUrl, string? apiKey, string model) => new()
    {
        [$"{section}:BaseUrl"] = baseUrl,
        [$"{section}:ApiKey"] = apiKey,
        [$"{section}:Model"] = model,
        [$"{section}:Timeout"] = "00:00:10",
        [$"{section}:MaxRetries"] = "2",
        [$"{section}:RetryBaseDelay"] = "00:00:00.010",
        [$"{section}:MaxRetryDelay"] = "00:00:00.050",
    };

    public static ServiceProvider Build(string provider, IDictionary<string, string?> settings)
    {
        var all = new Dictionary<string, string?>(settings) { ["Content:Provider"] = provider };
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(all).Build());
        services.AddLogging();
        services.AddArticleWriters();
        return services.BuildServiceProvider();
    }

    public static ArticleRequest Request() => new("Write about baking sourdough at home", "warm and encouraging", "beginner bakers", 1200);
}
