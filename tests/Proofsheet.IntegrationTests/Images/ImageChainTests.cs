using Proofsheet.Images;

namespace Proofsheet.IntegrationTests.Images;

public sealed class ImageChainTests
{
    private static ImageRequest Request(int count) => new()
    {
        Prompt = "a lighthouse on a cliff at sunset, photo",
        Count = count,
        Title = "Lighthouses of the North",
        Width = 640,
        Height = 360,
    };

    [Fact]
    public async Task With_automatic1111_down_the_chain_yields_title_cards()
    {
        await using var app = ImagesHost.Build(new Dictionary<string, string?>
        {
            ["Images:Providers"] = "automatic1111,titlecard",
            ["Images:Automatic1111:BaseUrls"] = DeadServer.Url(),
        });

        var results = await app.Chain().GenerateAsync(Request(3), null, null, CancellationToken.None);

        var result = Assert.Single(results);
        Assert.Equal("titlecard", result.Source);
        Assert.Equal(3, result.Images.Count);
        Assert.All(result.Images, i => Assert.Equal("image/png", i.ContentType));
    }

    [Fact]
    public async Task A_working_automatic1111_makes_every_image()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        await using var app = ImagesHost.Build(new Dictionary<string, string?>
        {
            ["Images:Providers"] = "automatic1111,titlecard",
            ["Images:Automatic1111:BaseUrls"] = a1111.BaseUrl,
        });

        var results = await app.Chain().GenerateAsync(Request(3), null, null, CancellationToken.None);

        var result = Assert.Single(results);
        Assert.Equal("automatic1111", result.Source);
        Assert.Equal(3, result.Images.Count);
    }

    [Fact]
    public async Task A_backend_slower_than_its_budget_counts_as_failed()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.Delay = TimeSpan.FromSeconds(30);
        await using var app = ImagesHost.Build(new Dictionary<string, string?>
        {
            ["Images:Providers"] = "automatic1111,titlecard",
            ["Images:Automatic1111:BaseUrls"] = a1111.BaseUrl,
            ["Images:CircuitBreaker:BackendTimeout"] = "00:00:00.300",
        });

        var results = await app.Chain().GenerateAsync(Request(2), null, null, CancellationToken.None);

        Assert.Equal("titlecard", Assert.Single(results).Source);
    }

    [Fact]
    public async Task When_every_backend_fails_the_error_names_each_reason()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.Mode = A1111Mode.OutOfMemory;
        await using var app = ImagesHost.Build(new Dictionary<string, string?>
        {
            ["Images:Providers"] = "automatic1111",
            ["Images:Automatic1111:BaseUrls"] = a1111.BaseUrl,
        });

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() => app.Chain().GenerateAsync(Request(1), null, null, CancellationToken.None));

        Assert.StartsWith("Every image backend failed. automatic1111: ", ex.Message);
        Assert.Contains("CUDA out of memory", ex.Message);
    }

    [Fact]
    public async Task The_circuit_breaker_skips_a_failing_backend_after_k_failures_then_tries_it_again()
    {
        var time = new ManualTime();
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.Mode = A1111Mode.OutOfMemory;
        await using var app = ImagesHost.Build(new Dictionary<string, string?>
        {
            ["Images:Providers"] = "automatic1111,titlecard",
            ["Images:Automatic1111:BaseUrls"] = a1111.BaseUrl,
            ["Images:CircuitBreaker:FailureThreshold"] = "2",
            ["Images:CircuitBreaker:BreakDuration"] = "00:05:00",
        }, time);
        var chain = app.Chain();

        for (var i = 1; i <= 2; i++)
        {
            Assert.Equal("titlecard", Assert.Single(await chain.GenerateAsync(Request(1), null, null, CancellationToken.None)).Source);
            Assert.Equal(i, a1111.Txt2ImgCalls);
        }

        // Open: the backend is not asked at all.
        Assert.Equal("titlecard", Assert.Single(await chain.GenerateAsync(Request(1), null, null, CancellationToken.None)).Source);
        Assert.Equal(2, a1111.Txt2ImgCalls);

        // After the pause it is tried again, and a success closes the circuit.
        time.Advance(TimeSpan.FromMinutes(6));
        a1111.Mode = A1111Mode.Ok;
        Assert.Equal("automatic1111", Assert.Single(await chain.GenerateAsync(Request(1), null, null, CancellationToken.None)).Source);
        Assert.Equal(3, a1111.Txt2ImgCalls);
    }

    [Fact]
    public async Task Chain_progress_covers_the_whole_request()
    {
        await using var app = ImagesHost.Build(new Dictionary<string, string?>
        {
            ["Images:Providers"] = "automatic1111,titlecard",
            ["Images:Automatic1111:BaseUrls"] = DeadServer.Url(),
        });
        var progress = new RecordingProgress();

        await app.Chain().GenerateAsync(Request(2), null, progress, CancellationToken.None);

        Assert.Equal(new GenerationProgress(2, 2, "drawing title card"), progress.Reports.Last());
    }
}
