using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Publishing;

namespace Proofsheet.IntegrationTests.Publishing;

public sealed class PublishingConfigurationTests
{
    private static async Task<WebApplication> StartAsync(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings);
        // The local store needs the app's folders (registered by AddData in the app).
        builder.Services.AddSingleton(new AppPaths(builder.Configuration));
        builder.AddPublishing();
        var app = builder.Build();
        await app.StartAsync();
        return app;
    }

    [Fact]
    public async Task Selecting_cloudinary_without_its_keys_fails_at_start_naming_the_keys_but_no_secret()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new()
        {
            ["Publishing:Provider"] = "cloudinary",
            ["Publishing:Cloudinary:ApiSecret"] = "top-secret-value",
        }));

        Assert.Contains("Publishing:Cloudinary:CloudName is not set", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Publishing:Cloudinary:ApiKey is not set", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ApiSecret is not set", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("top-secret-value", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Selecting_s3_without_its_keys_fails_at_start()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new()
        {
            ["Publishing:Provider"] = "s3",
            ["Publishing:S3:Bucket"] = "media",
            ["Publishing:S3:SecretKey"] = "top-secret-value",
        }));

        Assert.Contains("Publishing:S3:AccessKey is not set", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Publishing:S3:PublicBaseUrl is not set", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("top-secret-value", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cloudinary", typeof(CloudinaryStore))]
    [InlineData("s3", typeof(S3Store))]
    [InlineData("local", typeof(LocalPublishingStore))]
    public async Task A_fully_configured_store_starts_and_becomes_the_active_store(string provider, Type expected)
    {
        await using var app = await StartAsync(new()
        {
            ["DataDirectory"] = Path.GetTempPath(),
            ["Publishing:Provider"] = provider,
            ["Publishing:Cloudinary:CloudName"] = "demo",
            ["Publishing:Cloudinary:ApiKey"] = "123",
            ["Publishing:Cloudinary:ApiSecret"] = "abc",
            ["Publishing:Cloudinary:SignatureAlgorithm"] = "sha256",
            ["Publishing:S3:ServiceUrl"] = "http://127.0.0.1:9000",
            ["Publishing:S3:Bucket"] = "media",
            ["Publishing:S3:AccessKey"] = "key",
            ["Publishing:S3:SecretKey"] = "secret",
            ["Publishing:S3:PublicBaseUrl"] = "https://cdn.example.com",
        });

        Assert.IsType(expected, app.Services.GetRequiredService<ActiveStore>().Store);
        await app.StopAsync();
    }

    [Fact]
    public async Task An_unused_provider_section_may_stay_empty()
    {
        await using var app = await StartAsync(new() { ["DataDirectory"] = Path.GetTempPath(), ["Publishing:Provider"] = "local" });

        Assert.Equal("local", app.Services.GetRequiredService<ActiveStore>().Store.Name);
        await app.StopAsync();
    }
}
