using System.Net.Http.Json;
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

    private static ImageRequest Request(int count, ulong? seed = null) => new()
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
    public async Task Each_image_is_its_own_sdxl_graph_with_its_own_seed_followed_on_the_websocket_and_fetched_from_the_temp_folder()
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        await using var app = ImagesHost.Build(Config(comfy.BaseUrl));
        var progress = new RecordingProgress();

        var images = await app.Generator<ComfyUIGenerator>().GenerateAsync(Request(3, seed: 77), progress, CancellationToken.None);

        Assert.Equal(3, images.Count);
        Assert.All(images, i => Assert.Equal("image/png", i.ContentType));
        Assert.Equal([77L, 78L, 79L], images.Select(i => i.Seed!.Value));
        Assert.All(images, i => Assert.Equal("sd_xl_base_1.0.safetensors", i.Model));
        Assert.Equal(3, images.Select(i => Convert.ToHexString(i.Data)).Distinct().Count());
        Assert.Equal(3, comfy.Views.Count);
        Assert.Equal(3, comfy.Prompts.Count);
        var prompt = comfy.Prompts.First();
        Assert.False(string.IsNullOrEmpty(prompt["client_id"]!.GetValue<string>()));
        var graph = prompt["prompt"]!.AsObject();
        Assert.Equal("sd_xl_base_1.0.safetensors", graph["4"]!["inputs"]!["ckpt_name"]!.GetValue<string>());
        Assert.Equal(1, graph["5"]!["inputs"]!["batch_size"]!.GetValue<int>());
        Assert.Equal(1024, graph["5"]!["inputs"]!["width"]!.GetValue<int>());
        Assert.Equal(768, graph["5"]!["inputs"]!["height"]!.GetValue<int>());
        Assert.Equal("blurry, lowres", graph["7"]!["inputs"]!["text"]!.GetValue<string>());
        Assert.Equal(8, graph["3"]!["inputs"]!["steps"]!.GetValue<int>());
        // PreviewImage: the renders go to ComfyUI's temp folder, emptied when it starts, not its output folder.
        Assert.Equal("PreviewImage", graph["9"]!["class_type"]!.GetValue<string>());
        var steps = progress.Reports.Where(r => r.Step?.StartsWith("step ", StringComparison.Ordinal) == true).ToList();
        Assert.Contains(steps, r => r.Step == "step 8/8");
        Assert.All(steps, r => Assert.Equal(3, r.Total));
        Assert.Equal(new GenerationProgress(3, 3, "done"), progress.Reports.Last());
    }

    [Fact]
    public async Task Binary_preview_frames_become_live_previews()
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        comfy.LivePreviews = true;
        await using var app = ImagesHost.Build(Config(comfy.BaseUrl));
        var progress = new RecordingProgress();

        await app.Generator<ComfyUIGenerator>().GenerateAsync(Request(1), progress, CancellationToken.None);

        var previews = progress.Reports.Where(r => r.Preview is not null).ToList();
        Assert.Equal(8, previews.Count);
        Assert.All(previews, r => Assert.Equal("image/png", r.Preview!.ContentType));
    }

    [Fact]
    public async Task Any_image_of_a_request_renders_again_alone_from_its_seed()
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        await using var app = ImagesHost.Build(Config(comfy.BaseUrl));
        var generator = app.Generator<ComfyUIGenerator>();

        var batch = await generator.GenerateAsync(Request(3), null, CancellationToken.None);
        var again = Assert.Single(await generator.GenerateAsync(Request(1, seed: batch[1].Seed), null, CancellationToken.None));

        Assert.Equal(batch[1].Seed, again.Seed);
        Assert.Equal(batch[1].Data, again.Data);
        Assert.All(batch, i => Assert.InRange(i.Seed!.Value, 0UL, (1UL << 53) + 3));
    }

    [Fact]
    public async Task A_cancel_interrupts_the_running_prompt_by_its_id()
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        comfy.StepDelay = TimeSpan.FromMinutes(10);
        await using var app = ImagesHost.Build(Config(comfy.BaseUrl));
        var generator = app.Generator<ComfyUIGenerator>();
        using var cancel = new CancellationTokenSource();
        var started = comfy.JobStarted.Task;

        var abandoned = generator.GenerateAsync(Request(2), null, cancel.Token);
        var running = await started;
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);

        Assert.Equal([running], comfy.Interrupts);
        // Had the client not yet seen it start, it also deletes it from the queue: harmless for a running prompt.
        Assert.All(comfy.QueueDeletes, id => Assert.Equal(running, id));
        Assert.Equal(0, comfy.JobsCompleted);
        comfy.StepDelay = TimeSpan.Zero;
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Assert.Single(await generator.GenerateAsync(Request(1), null, guard.Token));
    }

    [Fact]
    public async Task A_cancel_deletes_our_queued_prompt_and_leaves_another_clients_render_alone()
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        comfy.StepDelay = TimeSpan.FromMilliseconds(200);
        await using var app = ImagesHost.Build(Config(comfy.BaseUrl));
        using var http = new HttpClient();
        using (await http.PostAsJsonAsync(comfy.BaseUrl + "/prompt", new { prompt = ComfyUIGenerator.BuildGraph(Request(1), 5, new ComfyUIOptions()) }))
        {
        }
        var foreign = await comfy.Accepted.Reader.ReadAsync();
        using var cancel = new CancellationTokenSource();

        var ours = app.Generator<ComfyUIGenerator>().GenerateAsync(Request(1), null, cancel.Token);
        var queued = await comfy.Accepted.Reader.ReadAsync();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ours);

        Assert.Equal([queued], comfy.QueueDeletes);
        Assert.Equal([queued], comfy.Interrupts);
        // The other client's render was not interrupted: it runs to its end.
        Assert.Equal(foreign, await comfy.Completed.Reader.ReadAsync());
        Assert.NotEqual(foreign, queued);
    }

    [Theory]
    [InlineData("steps", 0, "value_smaller_than_min", "steps, Value 0 smaller than min of 1")]
    [InlineData("sampler_name", "dpmpp_2m_karras", "value_not_in_list", "sampler_name: 'dpmpp_2m_karras' not in")]
    public async Task The_stand_in_refuses_what_ComfyUI_refuses(string input, object value, string type, string details)
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        var graph = ComfyUIGenerator.BuildGraph(Request(1), 1, new ComfyUIOptions());
        graph["3"]!["inputs"]![input] = System.Text.Json.Nodes.JsonValue.Create(value is string v ? (object)v : Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture));
        using var http = new HttpClient();

        using var response = await http.PostAsJsonAsync(comfy.BaseUrl + "/prompt", new { prompt = graph });
        var body = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.Equal(400, (int)response.StatusCode);
        var error = body["node_errors"]!["3"]!["errors"]![0]!;
        Assert.Equal(type, error["type"]!.GetValue<string>());
        Assert.Contains(details, error["details"]!.GetValue<string>());
        Assert.Equal(ulong.MaxValue, System.Text.Json.Nodes.JsonNode.Parse("18446744073709551615")!.GetValue<ulong>());
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
