using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Proofsheet.Images;

namespace Proofsheet.IntegrationTests.Images;

public sealed class OpenAIImageGeneratorTests
{
    private static Dictionary<string, string?> Config(OpenAIImagesStandIn standIn, string model = "gpt-image-1", string key = OpenAIImagesStandIn.Key) => new()
    {
        ["Images:Providers"] = "openai,titlecard",
        ["Images:OpenAI:BaseUrl"] = standIn.BaseUrl,
        ["Images:OpenAI:ApiKey"] = key,
        ["Images:OpenAI:Model"] = model,
        // Retry-After is honoured up to this cap, which keeps the tests quick.
        ["Images:OpenAI:MaxRetryDelay"] = "00:00:00.100",
    };

    private static ImageRequest Request(int count) => new() { Prompt = "a lighthouse on a cliff at sunset", Count = count, Width = 1024, Height = 768 };

    [Fact]
    public async Task A_gpt_image_model_makes_all_variations_in_one_call_without_response_format()
    {
        await using var openai = await OpenAIImagesStandIn.StartAsync();
        await using var app = ImagesHost.Build(Config(openai));

        var images = await app.Generator<OpenAIImageGenerator>().GenerateAsync(Request(3), null, CancellationToken.None);

        Assert.Equal(3, images.Count);
        Assert.All(images, i => Assert.Equal("image/png", i.ContentType));
        var call = Assert.Single(openai.Requests);
        Assert.Equal(3, call["n"]!.GetValue<int>());
        Assert.Equal("gpt-image-1", call["model"]!.GetValue<string>());
        Assert.Equal("1536x1024", call["size"]!.GetValue<string>());
        Assert.False(call.ContainsKey("response_format"));
    }

    [Fact]
    public async Task Dall_e_3_is_asked_once_per_image_for_base64()
    {
        await using var openai = await OpenAIImagesStandIn.StartAsync();
        await using var app = ImagesHost.Build(Config(openai, model: "dall-e-3"));

        var images = await app.Generator<OpenAIImageGenerator>().GenerateAsync(Request(2), null, CancellationToken.None);

        Assert.Equal(2, images.Count);
        Assert.Equal(2, openai.Requests.Count);
        Assert.All(openai.Requests, r => Assert.Equal("b64_json", r["response_format"]!.GetValue<string>()));
        Assert.All(openai.Requests, r => Assert.Equal("1792x1024", r["size"]!.GetValue<string>()));
    }

    [Fact]
    public async Task An_image_url_answer_is_fetched_without_the_api_key()
    {
        await using var openai = await OpenAIImagesStandIn.StartAsync();
        openai.AnswerWithUrl = true;
        await using var app = ImagesHost.Build(Config(openai, model: "dall-e-2"));

        var images = await app.Generator<OpenAIImageGenerator>().GenerateAsync(Request(2), null, CancellationToken.None);

        Assert.Equal(2, images.Count);
        Assert.Equal(["", ""], openai.ImageDownloadsAuthorization);
    }

    [Fact]
    public async Task A_429_with_retry_after_is_retried_and_then_succeeds()
    {
        await using var openai = await OpenAIImagesStandIn.StartAsync();
        openai.Failures.Enqueue(new(429, "requests", "rate_limit_exceeded", "Rate limit reached for images per minute.",
            new() { ["retry-after"] = "1" }));
        await using var app = ImagesHost.Build(Config(openai));

        var images = await app.Generator<OpenAIImageGenerator>().GenerateAsync(Request(1), null, CancellationToken.None);

        Assert.Single(images);
        Assert.Equal(2, openai.Requests.Count);
    }

    [Fact]
    public async Task Server_errors_are_retried_up_to_the_limit()
    {
        await using var openai = await OpenAIImagesStandIn.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            openai.Failures.Enqueue(new(503, "server_error", "server_is_overloaded", "The server is overloaded."));
        }
        await using var app = ImagesHost.Build(Config(openai));

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<OpenAIImageGenerator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Equal(3, openai.Requests.Count);
        Assert.Contains("answered 503 [server_is_overloaded]: The server is overloaded.", ex.Message);
    }

    [Theory]
    [InlineData(429, "insufficient_quota", "You exceeded your current quota.")]
    [InlineData(400, "moderation_blocked", "Your request was rejected by the safety system.")]
    public async Task Other_failures_are_not_retried(int status, string code, string message)
    {
        await using var openai = await OpenAIImagesStandIn.StartAsync();
        openai.Failures.Enqueue(new(status, "invalid_request_error", code, message));
        await using var app = ImagesHost.Build(Config(openai));

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<OpenAIImageGenerator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Single(openai.Requests);
        Assert.Contains($"answered {status} [{code}]: {message}", ex.Message);
    }

    [Fact]
    public async Task A_rejected_key_is_explained_without_showing_it()
    {
        await using var openai = await OpenAIImagesStandIn.StartAsync();
        await using var app = ImagesHost.Build(Config(openai, key: "sk-wrong-secret-key"));

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<OpenAIImageGenerator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Contains("answered 401 (the API key in Images:OpenAI:ApiKey was rejected)", ex.Message);
        Assert.DoesNotContain("sk-wrong-secret-key", ex.Message);
    }

    [Fact]
    public async Task A_malformed_body_is_a_clear_error()
    {
        await using var openai = await OpenAIImagesStandIn.StartAsync();
        openai.Malformed = true;
        await using var app = ImagesHost.Build(Config(openai));

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<OpenAIImageGenerator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Equal("OpenAI images answered with a body that is not JSON.", ex.Message);
    }

    [Fact]
    public async Task A_slow_answer_times_out()
    {
        await using var openai = await OpenAIImagesStandIn.StartAsync();
        openai.Delay = TimeSpan.FromSeconds(30);
        var config = Config(openai);
        config["Images:OpenAI:Timeout"] = "00:00:00.300";
        await using var app = ImagesHost.Build(config);

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<OpenAIImageGenerator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Equal("OpenAI images did not answer within 0.3 s.", ex.Message);
    }

    [Fact]
    public async Task Health_checks_the_key_and_model_without_revealing_the_key()
    {
        await using var openai = await OpenAIImagesStandIn.StartAsync();
        await using (var app = ImagesHost.Build(Config(openai)))
        {
            var report = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(CancellationToken.None);
            Assert.Equal(HealthStatus.Healthy, report.Entries["images:openai"].Status);
        }
        await using (var app = ImagesHost.Build(Config(openai, key: "sk-wrong-secret-key")))
        {
            var entry = (await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(CancellationToken.None)).Entries["images:openai"];
            Assert.Equal(HealthStatus.Unhealthy, entry.Status);
            Assert.Equal("The API key was rejected (401).", entry.Description);
            Assert.DoesNotContain(entry.Data.Values, v => v.ToString()!.Contains("sk-wrong", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Openai_in_the_chain_without_a_key_is_a_clear_configuration_error()
    {
        await using var app = ImagesHost.Build(new Dictionary<string, string?> { ["Images:Providers"] = "openai" });

        var ex = Assert.Throws<OptionsValidationException>(() => app.Services.GetRequiredService<IOptionsMonitor<OpenAIImageOptions>>().CurrentValue);

        Assert.Contains("Images:OpenAI:ApiKey must be set", ex.Message);
    }
}
