using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Proofsheet.Images;

namespace Proofsheet.IntegrationTests.Images;

/// <summary>
/// The model and sampler asked for or a clear error, no render left running after a cancel, and a batch
/// that runs out of memory split on its server: against a stand-in that, like the real server, silently
/// falls back to other models and samplers and renders on after its client has gone.
/// </summary>
public sealed class Automatic1111ServerTruthTests
{
    private static Dictionary<string, string?> Config(params string[] baseUrls) => new()
    {
        ["Images:Providers"] = "automatic1111",
        ["Images:Automatic1111:BaseUrls"] = string.Join(",", baseUrls),
        ["Images:Automatic1111:ProgressInterval"] = "00:00:00.050",
        ["Images:Automatic1111:Checkpoint"] = "sd_xl_base_1.0",
    };

    private static ImageRequest Request(int count) => new() { Prompt = "a lighthouse at dusk", Width = 1024, Height = 768, Steps = 12, Count = count };

    private static async Task<HealthReportEntry> ReadinessAsync(Microsoft.AspNetCore.Builder.WebApplication app) =>
        (await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(CancellationToken.None)).Entries["images:automatic1111"];

    [Theory]
    [InlineData("Checkpoint", "sdxl_base_1.0", "is not a checkpoint", "sd_xl_base_1.0.safetensors [31e35c80fc], juggernautXL_v9.safetensors [c9e3e68f89]")]
    [InlineData("SamplerName", "DPM++ 2M Karass", "is not a sampler", "DPM++ 2M, DPM++ SDE")]
    [InlineData("Scheduler", "Karass", "is not a scheduler", "Automatic, Uniform, Karras")]
    public async Task A_mistyped_setting_fails_readiness_and_the_job_with_the_same_sentence_and_nothing_is_rendered(
        string setting, string typo, string says, string lists)
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        var config = Config(a1111.BaseUrl);
        config[$"Images:Automatic1111:{setting}"] = typo;
        await using var app = ImagesHost.Build(config);

        var ready = await ReadinessAsync(app);
        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<Automatic1111Generator>().GenerateAsync(Request(2), null, CancellationToken.None));

        Assert.Equal(HealthStatus.Unhealthy, ready.Status);
        var sentence = $"Images:Automatic1111:{setting} \"{typo}\" {says} on {a1111.BaseUrl}; it has: ";
        Assert.Contains(sentence, ready.Description);
        Assert.Contains(lists, ready.Description);
        Assert.Contains(sentence, ex.Message);
        Assert.Contains(lists, ex.Message);
        Assert.Equal(0, a1111.Txt2ImgCalls);
    }

    [Fact]
    public async Task The_model_each_image_was_rendered_with_is_recorded_and_shown_in_readiness()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        var config = Config(a1111.BaseUrl);
        config["Images:Automatic1111:Checkpoint"] = "juggernautXL_v9.safetensors [c9e3e68f89]";
        config["Images:Automatic1111:SamplerName"] = "k_euler_a";
        await using var app = ImagesHost.Build(config);

        var before = await ReadinessAsync(app);
        var images = await app.Generator<Automatic1111Generator>().GenerateAsync(Request(2), null, CancellationToken.None);
        var after = await ReadinessAsync(app);

        Assert.All(images, i => Assert.Equal("juggernautXL_v9 [c9e3e68f89]", i.Model));
        Assert.Equal(("juggernautXL_v9", "Euler a", "Karras"), a1111.LastUsed);
        // The server's options still name the loaded model; readiness says what the last job used.
        Assert.Equal("ready, model sd_xl_base_1.0.safetensors [31e35c80fc] loaded (no job yet)", before.Data[a1111.BaseUrl]);
        Assert.Equal("ready, last job rendered with juggernautXL_v9 [c9e3e68f89]", after.Data[a1111.BaseUrl]);
        // The health page shows the description, so the model is in it too.
        Assert.Equal($"1 of 1 AUTOMATIC1111 server(s) ready. {a1111.BaseUrl}: ready, last job rendered with juggernautXL_v9 [c9e3e68f89].", after.Description);
    }

    [Fact]
    public async Task An_answer_rendered_with_another_model_is_refused()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.ForceModel = "juggernautXL_v9";
        await using var app = ImagesHost.Build(Config(a1111.BaseUrl));

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<Automatic1111Generator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Contains("rendered with model juggernautXL_v9 [c9e3e68f89] instead of Images:Automatic1111:Checkpoint \"sd_xl_base_1.0\"", ex.Message);
    }

    [Fact]
    public async Task A_cancelled_job_sends_exactly_one_interrupt_and_the_next_job_is_not_held_up_by_it()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.Delay = TimeSpan.FromMinutes(10);
        await using var app = ImagesHost.Build(Config(a1111.BaseUrl));
        var generator = app.Generator<Automatic1111Generator>();
        using var cancel = new CancellationTokenSource();
        var started = a1111.JobStarted.Task;

        var abandoned = generator.GenerateAsync(Request(4), null, cancel.Token);
        await started;
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);

        Assert.Equal(1, a1111.Interrupts);
        Assert.Equal(0, a1111.JobsCompleted);
        // Were the abandoned render still going, this would wait ten minutes behind it (the test's own timeout).
        a1111.Delay = TimeSpan.Zero;
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var next = await generator.GenerateAsync(Request(1), null, guard.Token);
        Assert.Single(next);
        Assert.Equal(1, a1111.Interrupts);
    }

    [Fact]
    public async Task A_job_past_its_timeout_is_interrupted_on_the_server()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.Delay = TimeSpan.FromMinutes(10);
        var config = Config(a1111.BaseUrl);
        config["Images:Automatic1111:Timeout"] = "00:00:01";
        await using var app = ImagesHost.Build(config);

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<Automatic1111Generator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Contains("did not finish within 1 s", ex.Message);
        Assert.Equal(1, a1111.Interrupts);
        Assert.Equal(0, a1111.JobsCompleted);
    }

    [Fact]
    public async Task Four_images_on_a_server_that_fits_two_are_split_on_that_server_and_the_split_is_recorded()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.MaxBatch = 2;
        await using var app = ImagesHost.Build(Config(a1111.BaseUrl));
        var progress = new RecordingProgress();

        var images = await app.Generator<Automatic1111Generator>().GenerateAsync(Request(4), progress, CancellationToken.None);

        Assert.Equal(4, images.Count);
        Assert.Equal([4, 2, 2], a1111.Txt2ImgRequests.Select(r => r["batch_size"]!.GetValue<int>()));
        Assert.Equal(4, images.Select(i => i.Seed).Distinct().Count());
        Assert.All(images, i => Assert.Equal($"{a1111.BaseUrl} ran out of GPU memory with 4 images at once; rendered 2 at a time", i.Note));
        Assert.Contains(progress.Reports, r => r.Step == "out of GPU memory with 4 at once; trying 2 at a time");
    }

    [Theory]
    [InlineData(A1111Flavour.Automatic1111)]
    [InlineData(A1111Flavour.Forge)]
    public async Task An_error_body_of_either_server_ends_as_one_plain_sentence(A1111Flavour flavour)
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.Flavour = flavour;
        a1111.Mode = A1111Mode.OutOfMemory;
        await using var app = ImagesHost.Build(Config(a1111.BaseUrl));

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<Automatic1111Generator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Equal($"AUTOMATIC1111 failed: {a1111.BaseUrl} answered 500: OutOfMemoryError: CUDA out of memory. Tried to allocate 2.50 GiB "
                     + "(GPU 0; 8.00 GiB total capacity; 5.12 GiB already allocated). The GPU ran out of memory even for one image: lower Images:Width/Height.", ex.Message);
    }

    [Theory]
    [InlineData("""{"detail":"Not Found"}""", "answered 404: Not Found.")]
    [InlineData("""{"error":"HTTPException","detail":"Sampler not found","body":"","message":"400: Sampler not found"}""", "answered 404: HTTPException: Sampler not found.")]
    [InlineData("""{"error":"RuntimeError","detail":"","body":"","errors":"model 'x' not found"}""", "answered 404: RuntimeError: model 'x' not found.")]
    public void Every_error_shape_reads_as_one_sentence(string body, string expected)
    {
        var server = new Uri("http://gpu-1:7860/");

        Assert.Equal("http://gpu-1:7860 " + expected, Automatic1111Client.DescribeError(server, 404, body));
    }

    [Fact]
    public async Task Live_previews_are_passed_on_while_the_batch_denoises()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.LivePreviews = true;
        a1111.Delay = TimeSpan.FromMilliseconds(200);
        a1111.HoldUntilProgressPolls = 3;
        await using var app = ImagesHost.Build(Config(a1111.BaseUrl));
        var progress = new RecordingProgress();

        await app.Generator<Automatic1111Generator>().GenerateAsync(Request(2), progress, CancellationToken.None);

        var previews = progress.Reports.Where(r => r.Preview is not null).ToList();
        Assert.NotEmpty(previews);
        Assert.All(previews, r => Assert.Equal("image/png", r.Preview!.ContentType));
        Assert.All(previews, r => Assert.NotNull(ImageSniffer.Sniff(r.Preview!.Data)));
    }
}
