using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Proofsheet.Images;

namespace Proofsheet.IntegrationTests.Images;

public sealed class Automatic1111GeneratorTests
{
    private static Dictionary<string, string?> Config(params string[] baseUrls) => new()
    {
        ["Images:Providers"] = "automatic1111,titlecard",
        ["Images:Automatic1111:BaseUrls"] = string.Join(",", baseUrls),
        ["Images:Automatic1111:ProgressInterval"] = "00:00:00.050",
    };

    private static ImageRequest Request(int count, ulong? seed = null) => new()
    {
        Prompt = "a lighthouse on a cliff at sunset, photo",
        NegativePrompt = "blurry, lowres",
        Width = 1024,
        Height = 768,
        Steps = 12,
        Count = count,
        Seed = seed,
        Title = "Lighthouses",
    };

    [Fact]
    public async Task Four_variations_on_one_server_are_one_txt2img_call_with_batch_size_4()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        await using var app = ImagesHost.Build(Config(a1111.BaseUrl));

        var images = await app.Generator<Automatic1111Generator>().GenerateAsync(Request(4), null, CancellationToken.None);

        Assert.Equal(4, images.Count);
        var call = Assert.Single(a1111.Txt2ImgRequests);
        Assert.Equal(4, call["batch_size"]!.GetValue<int>());
        Assert.Equal(1, call["n_iter"]!.GetValue<int>());
        Assert.Equal("a lighthouse on a cliff at sunset, photo", call["prompt"]!.GetValue<string>());
        Assert.Equal("blurry, lowres", call["negative_prompt"]!.GetValue<string>());
        Assert.Equal(1024, call["width"]!.GetValue<int>());
        Assert.Equal(768, call["height"]!.GetValue<int>());
        Assert.Equal(12, call["steps"]!.GetValue<int>());
        Assert.Equal(-1, call["seed"]!.GetValue<long>());
        Assert.All(images, i => Assert.Equal("image/png", i.ContentType));
        Assert.All(images, i => Assert.Equal(ImageSniffer.Sniff(i.Data)!.Width, i.Width));
        // The seeds come from info.all_seeds, which the server chose.
        var seeds = images.Select(i => i.Seed!.Value).ToList();
        Assert.Equal(4, seeds.Distinct().Count());
        Assert.Equal(seeds[0] + 3, seeds[3]);
        Assert.Equal(4, images.Select(i => Convert.ToHexString(i.Data)).Distinct().Count());
    }

    [Fact]
    public async Task A_given_seed_is_sent()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        await using var app = ImagesHost.Build(Config(a1111.BaseUrl));

        var images = await app.Generator<Automatic1111Generator>().GenerateAsync(Request(2, seed: 42), null, CancellationToken.None);

        Assert.Equal(42, Assert.Single(a1111.Txt2ImgRequests)["seed"]!.GetValue<long>());
        Assert.Equal([42L, 43L], images.Select(i => i.Seed!.Value));
    }

    [Fact]
    public async Task Four_variations_on_two_servers_run_as_two_overlapping_calls_of_two()
    {
        var recorder = new InFlightRecorder(rendezvous: 2);
        await using var first = await Automatic1111StandIn.StartAsync();
        await using var second = await Automatic1111StandIn.StartAsync();
        first.Recorder = recorder;
        second.Recorder = recorder;
        await using var app = ImagesHost.Build(Config(first.BaseUrl, second.BaseUrl));

        var images = await app.Generator<Automatic1111Generator>().GenerateAsync(Request(4), null, CancellationToken.None);

        Assert.Equal(4, images.Count);
        Assert.Equal(2, Assert.Single(first.Txt2ImgRequests)["batch_size"]!.GetValue<int>());
        Assert.Equal(2, Assert.Single(second.Txt2ImgRequests)["batch_size"]!.GetValue<int>());
        Assert.Equal(2, recorder.Max);
    }

    [Fact]
    public async Task Concurrent_requests_go_to_the_least_busy_servers_of_the_pool()
    {
        var recorder = new InFlightRecorder(rendezvous: 2);
        await using var first = await Automatic1111StandIn.StartAsync();
        await using var second = await Automatic1111StandIn.StartAsync();
        first.Recorder = recorder;
        second.Recorder = recorder;
        await using var app = ImagesHost.Build(Config(first.BaseUrl, second.BaseUrl));
        var generator = app.Generator<Automatic1111Generator>();

        var results = await Task.WhenAll(
            generator.GenerateAsync(Request(1), null, CancellationToken.None),
            generator.GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.All(results, r => Assert.Single(r));
        Assert.Single(first.Txt2ImgRequests);
        Assert.Single(second.Txt2ImgRequests);
        Assert.Equal(2, recorder.Max);
    }

    [Fact]
    public async Task A_server_that_is_down_hands_its_share_to_a_healthy_one()
    {
        await using var live = await Automatic1111StandIn.StartAsync();
        await using var app = ImagesHost.Build(Config(DeadServer.Url(), live.BaseUrl));

        var images = await app.Generator<Automatic1111Generator>().GenerateAsync(Request(4), null, CancellationToken.None);

        Assert.Equal(4, images.Count);
        Assert.Equal([2, 2], live.Txt2ImgRequests.Select(r => r["batch_size"]!.GetValue<int>()));

        // The failed server now sits out: the next request goes to the live one as a single batch.
        await app.Generator<Automatic1111Generator>().GenerateAsync(Request(3), null, CancellationToken.None);
        Assert.Equal(3, live.Txt2ImgRequests.Last()["batch_size"]!.GetValue<int>());
    }

    [Fact]
    public async Task Out_of_memory_becomes_a_clear_error()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.Mode = A1111Mode.OutOfMemory;
        await using var app = ImagesHost.Build(Config(a1111.BaseUrl));

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<Automatic1111Generator>().GenerateAsync(Request(2), null, CancellationToken.None));

        Assert.Contains("answered 500", ex.Message);
        Assert.Contains("OutOfMemoryError", ex.Message);
        Assert.Contains("CUDA out of memory", ex.Message);
    }

    [Theory]
    [InlineData(A1111Mode.MalformedJson, "not JSON")]
    [InlineData(A1111Mode.NotAnImage, "not a PNG")]
    public async Task A_malformed_body_becomes_a_clear_error(A1111Mode mode, string expected)
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.Mode = mode;
        await using var app = ImagesHost.Build(Config(a1111.BaseUrl));

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<Automatic1111Generator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public async Task A_call_slower_than_the_timeout_fails_as_a_timeout()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.Delay = TimeSpan.FromSeconds(30);
        var config = Config(a1111.BaseUrl);
        config["Images:Automatic1111:Timeout"] = "00:00:00.300";
        await using var app = ImagesHost.Build(config);

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<Automatic1111Generator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Contains("did not finish within 0.3 s", ex.Message);
    }

    [Fact]
    public async Task Progress_of_the_running_batch_is_reported()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.Delay = TimeSpan.FromMilliseconds(200);
        a1111.HoldUntilProgressPolls = 3;
        await using var app = ImagesHost.Build(Config(a1111.BaseUrl));
        var progress = new RecordingProgress();

        await app.Generator<Automatic1111Generator>().GenerateAsync(Request(4), progress, CancellationToken.None);

        var reports = progress.Reports.ToList();
        var during = reports.Where(r => r.Step?.StartsWith("step ", StringComparison.Ordinal) == true).ToList();
        Assert.NotEmpty(during);
        Assert.All(during, r => Assert.Equal(4, r.Total));
        Assert.All(during, r => Assert.True(r.Done < 4));
        Assert.Matches(@"^step \d+/12$", during[0].Step);
        Assert.Equal(new GenerationProgress(4, 4, "batch finished"), reports[^1]);
    }

    [Fact]
    public async Task Basic_auth_is_sent_and_a_rejection_is_explained()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.Username = "studio";
        a1111.Password = "s3cret-pass";
        var config = Config(a1111.BaseUrl);
        config["Images:Automatic1111:Username"] = "studio";
        config["Images:Automatic1111:Password"] = "s3cret-pass";
        await using (var app = ImagesHost.Build(config))
        {
            var images = await app.Generator<Automatic1111Generator>().GenerateAsync(Request(1), null, CancellationToken.None);
            Assert.Single(images);
        }
        Assert.Contains("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("studio:s3cret-pass")), a1111.AuthorizationHeaders);

        config["Images:Automatic1111:Password"] = "wrong-pass";
        await using (var app = ImagesHost.Build(config))
        {
            var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
                app.Generator<Automatic1111Generator>().GenerateAsync(Request(1), null, CancellationToken.None));
            Assert.Contains("answered 401", ex.Message);
            Assert.Contains("Incorrect username or password", ex.Message);
            Assert.DoesNotContain("wrong-pass", ex.Message);
        }
    }

    [Fact]
    public async Task Automatic1111_in_the_chain_without_base_urls_is_a_clear_configuration_error()
    {
        await using var app = ImagesHost.Build(new Dictionary<string, string?> { ["Images:Providers"] = "automatic1111,titlecard" });

        var ex = Assert.Throws<OptionsValidationException>(() => app.Services.GetRequiredService<IOptionsMonitor<Automatic1111Options>>().CurrentValue);

        Assert.Contains("Images:Automatic1111:BaseUrls", ex.Message);
    }

    [Fact]
    public async Task Automatic1111_left_out_of_the_chain_needs_no_configuration()
    {
        await using var app = ImagesHost.Build(new Dictionary<string, string?> { ["Images:Providers"] = "titlecard" });

        Assert.Empty(app.Services.GetRequiredService<IOptionsMonitor<Automatic1111Options>>().CurrentValue.Servers);
    }

    [Fact]
    public async Task The_health_check_reports_each_server_without_credentials()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        var dead = DeadServer.Url();
        var config = Config(a1111.BaseUrl, dead);
        await using var app = ImagesHost.Build(config);
        var health = app.Services.GetRequiredService<HealthCheckService>();

        var report = await health.CheckHealthAsync(r => r.Tags.Contains("backend"), CancellationToken.None);

        var entry = report.Entries["images:automatic1111"];
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.StartsWith("1 of 2 AUTOMATIC1111 server(s) ready.", entry.Description);
        Assert.Contains($"{dead}: could not connect.", entry.Description);
        Assert.StartsWith("ready, model sd_xl_base_1.0", (string)entry.Data[a1111.BaseUrl]);
        Assert.Equal("could not connect", entry.Data[dead]);

        a1111.Username = "studio";
        a1111.Password = "right";
        config["Images:Automatic1111:BaseUrls"] = a1111.BaseUrl;
        config["Images:Automatic1111:Username"] = "studio";
        config["Images:Automatic1111:Password"] = "wrong-secret";
        await using var rejected = ImagesHost.Build(config);
        var denied = await rejected.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(CancellationToken.None);
        Assert.Equal(HealthStatus.Unhealthy, denied.Status);
        Assert.DoesNotContain("wrong-secret", string.Join(" ", denied.Entries.Values.SelectMany(e => e.Data.Values.Select(v => v.ToString())).Append(denied.Entries.Values.First().Description)));
    }
}
