using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Proofsheet.Images;

namespace Proofsheet.IntegrationTests.Images;

public sealed class ComfyUIGeneratorTests
{
    private static Dictionary<string, string?> Config(params string[] baseUrls) => new()
    {
        ["Images:Providers"] = "comfyui,titlecard",
        ["Images:ComfyUI:BaseUrls"] = string.Join(",", baseUrls),
    };

    private static ImageRequest Request(int count, long? seed = null) => new()
    {
        Prompt = "a lighthouse on a cliff at sunset, photo",
        NegativePrompt = "blurry, lowres",
        Width = 1024,
        Height = 768,
        Steps = 8,
        Count = count,
        Seed = seed,
    };

    [Fact]
    public async Task A_batch_is_one_sdxl_graph_followed_on_the_websocket_and_fetched_from_view()
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        await using var app = ImagesHost.Build(Config(comfy.BaseUrl));
        var progress = new RecordingProgress();

        var images = await app.Generator<ComfyUIGenerator>().GenerateAsync(Request(3, seed: 77), progress, CancellationToken.None);

        Assert.Equal(3, images.Count);
        Assert.All(images, i => Assert.Equal("image/png", i.ContentType));
        Assert.All(images, i => Assert.Equal(77, i.Seed));
        Assert.Equal(3, images.Select(i => Convert.ToHexString(i.Data)).Distinct().Count());
        Assert.Equal(3, comfy.Views.Count);
        var prompt = Assert.Single(comfy.Prompts);
        Assert.False(string.IsNullOrEmpty(prompt["client_id"]!.GetValue<string>()));
        var graph = prompt["prompt"]!.AsObject();
        Assert.Equal("sd_xl_base_1.0.safetensors", graph["4"]!["inputs"]!["ckpt_name"]!.GetValue<string>());
        Assert.Equal(3, graph["5"]!["inputs"]!["batch_size"]!.GetValue<int>());
        Assert.Equal(1024, graph["5"]!["inputs"]!["width"]!.GetValue<int>());
        Assert.Equal(768, graph["5"]!["inputs"]!["height"]!.GetValue<int>());
        Assert.Equal("blurry, lowres", graph["7"]!["inputs"]!["text"]!.GetValue<string>());
        Assert.Equal(77, graph["3"]!["inputs"]!["seed"]!.GetValue<long>());
        Assert.Equal(8, graph["3"]!["inputs"]!["steps"]!.GetValue<int>());
        var steps = progress.Reports.Where(r => r.Step?.StartsWith("step ", StringComparison.Ordinal) == true).ToList();
        Assert.Contains(steps, r => r.Step == "step 8/8");
        Assert.All(steps, r => Assert.Equal(3, r.Total));
        Assert.Equal(new GenerationProgress(3, 3, "done"), progress.Reports.Last());
    }

    [Fact]
    public async Task A_validation_error_from_prompt_is_explained()
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        var config = Config(comfy.BaseUrl);
        config["Images:ComfyUI:Checkpoint"] = "missing.safetensors";
        await using var app = ImagesHost.Build(config);

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<ComfyUIGenerator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Contains("rejected the job (400): Prompt outputs failed validation (CheckpointLoaderSimple: ckpt_name: 'missing.safetensors' not in ['sd_xl_base_1.0.safetensors'])", ex.Message);
    }

    [Fact]
    public async Task An_execution_error_is_explained()
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        comfy.Mode = ComfyMode.ExecutionError;
        await using var app = ImagesHost.Build(Config(comfy.BaseUrl));

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<ComfyUIGenerator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Contains("ComfyUI failed in VAEDecode: torch.OutOfMemoryError: Allocation on device 0 would exceed allowed memory. (out of memory)", ex.Message);
    }

    [Fact]
    public async Task A_dropped_websocket_falls_back_to_the_history()
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        comfy.Mode = ComfyMode.DropSocket;
        await using var app = ImagesHost.Build(Config(comfy.BaseUrl));

        var images = await app.Generator<ComfyUIGenerator>().GenerateAsync(Request(2), null, CancellationToken.None);

        Assert.Equal(2, images.Count);
    }

    [Fact]
    public async Task A_job_that_never_finishes_times_out()
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        comfy.Mode = ComfyMode.Hang;
        var config = Config(comfy.BaseUrl);
        config["Images:ComfyUI:Timeout"] = "00:00:00.500";
        await using var app = ImagesHost.Build(config);

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<ComfyUIGenerator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Contains("did not finish within 0.5 s", ex.Message);
    }

    [Fact]
    public async Task A_dead_server_hands_the_request_to_a_healthy_one()
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        await using var app = ImagesHost.Build(Config(DeadServer.Url(), comfy.BaseUrl));
        var generator = app.Generator<ComfyUIGenerator>();

        for (var i = 0; i < 3; i++)
        {
            Assert.Single(await generator.GenerateAsync(Request(1), null, CancellationToken.None));
        }
        Assert.Equal(3, comfy.Prompts.Count);
    }

    [Fact]
    public async Task The_health_check_asks_every_server_for_its_system_stats()
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        var dead = DeadServer.Url();
        await using var app = ImagesHost.Build(Config(comfy.BaseUrl, dead));

        var entry = (await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(CancellationToken.None)).Entries["images:comfyui"];

        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Equal("reachable, ComfyUI 0.3.64, cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", entry.Data[comfy.BaseUrl]);
        Assert.Equal("could not connect", entry.Data[dead]);
    }
}
