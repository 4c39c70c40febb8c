using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.IntegrationTests.Images;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.IntegrationTests.Publishing;
using Proofsheet.IntegrationTests.Writing;

namespace Proofsheet.IntegrationTests.Workflow;

/// <summary>The whole app with real backends configured against their stand-ins (issues 3 and 4).</summary>
public abstract class BackendWorkflowTests(TestDatabase database)
{
    [Fact]
    public async Task A_task_reaches_review_with_title_cards_when_automatic1111_is_down()
    {
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?>
        {
            ["Images:Providers"] = "automatic1111,titlecard",
            ["Images:Automatic1111:BaseUrls"] = DeadServer.Url(),
        });
        var id = (await app.CreateTaskAsync("Write about Resilient Pipelines")).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");
        var variations = task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().ToList();
        Assert.Equal(3, variations.Count);
        Assert.All(variations, v => Assert.Equal("titlecard", v.GetProperty("source").GetString()));

        using var anonymous = app.CreateClient();
        var ready = await anonymous.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var body = await ready.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("unhealthy", body.GetProperty("checks").GetProperty("images:automatic1111").GetProperty("status").GetString());
        app.DeleteFolder();
    }

    [Fact]
    public async Task Four_variations_on_automatic1111_are_one_batched_call_and_become_png_candidates()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?>
        {
            ["Images:Providers"] = "automatic1111,titlecard",
            ["Images:Automatic1111:BaseUrls"] = a1111.BaseUrl,
            ["Images:Width"] = "512",
            ["Images:Height"] = "512",
        });
        var id = (await app.CreateTaskAsync("Write about Batched Images", 4)).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");

        Assert.Equal(1, a1111.Txt2ImgCalls);
        var request = Assert.Single(a1111.Txt2ImgRequests);
        Assert.Equal(4, request["batch_size"]!.GetValue<int>());
        Assert.Equal(task.GetProperty("image_prompt").GetString(), request["prompt"]!.GetValue<string>());
        Assert.Contains("watermark", request["negative_prompt"]!.GetValue<string>(), StringComparison.Ordinal);
        var variations = task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().ToList();
        Assert.Equal(4, variations.Count);
        Assert.All(variations, v =>
        {
            Assert.Equal("automatic1111", v.GetProperty("source").GetString());
            Assert.Equal("image/png", v.GetProperty("content_type").GetString());
            Assert.EndsWith(".png", v.GetProperty("filename").GetString(), StringComparison.Ordinal);
        });
        Assert.Equal(4, variations.Select(v => v.GetProperty("seed").GetInt64()).Distinct().Count());

        // Readiness names each configured backend.
        using var anonymous = app.CreateClient();
        var ready = await anonymous.GetFromJsonAsync<JsonElement>("/health/ready");
        Assert.Equal("healthy", ready.GetProperty("checks").GetProperty("images:automatic1111").GetProperty("status").GetString());
        Assert.Equal("healthy", ready.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
        app.DeleteFolder();
    }

    [Fact]
    public async Task A_mistyped_checkpoint_fails_readiness_and_the_task_with_the_same_sentence_and_nothing_renders()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?>
        {
            ["Images:Providers"] = "automatic1111",
            ["Images:Automatic1111:BaseUrls"] = a1111.BaseUrl,
            ["Images:Automatic1111:Checkpoint"] = "sd_xl_bsae_1.0",
            ["Pipeline:MaxAttempts"] = "1",
        });
        var sentence = $"Images:Automatic1111:Checkpoint \"sd_xl_bsae_1.0\" is not a checkpoint on {a1111.BaseUrl}; "
                       + "it has: sd_xl_base_1.0.safetensors [31e35c80fc], juggernautXL_v9.safetensors [c9e3e68f89].";
        using var anonymous = app.CreateClient();
        var ready = await anonymous.GetAsync("/health/ready");
        var check = (await ready.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("checks").GetProperty("images:automatic1111");

        var id = (await app.CreateTaskAsync("Write about Mistyped Models", 2)).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "failed");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains(sentence, check.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Contains(sentence, task.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, a1111.Txt2ImgCalls);
        app.DeleteFolder();
    }

    [Fact]
    public async Task Each_candidate_records_the_model_the_server_rendered_it_with()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?>
        {
            ["Images:Providers"] = "automatic1111",
            ["Images:Automatic1111:BaseUrls"] = a1111.BaseUrl,
            ["Images:Automatic1111:Checkpoint"] = "juggernautXL_v9",
        });
        var id = (await app.CreateTaskAsync("Write about Recorded Models", 2)).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");

        var variations = task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().ToList();
        Assert.All(variations, v => Assert.Equal("juggernautXL_v9 [c9e3e68f89]", v.GetProperty("model").GetString()));
        app.DeleteFolder();
    }

    [Fact]
    public async Task Comfyui_seeds_up_to_2_to_the_64_minus_1_are_kept_returned_and_rendered_again_exactly()
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?>
        {
            ["Images:Providers"] = "comfyui,titlecard",
            ["Images:ComfyUI:BaseUrls"] = comfy.BaseUrl,
        });
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Enormous Seeds", 1)).GetProperty("id").GetString()!;
        var prompt = (await app.WaitForStatusAsync(id, "awaiting_approval")).GetProperty("image_prompt").GetString();
        const ulong top = ulong.MaxValue;
        const ulong high = (1UL << 63) + 12345;

        // Sent as the JSON numbers themselves, as a script would copy them from a candidate.
        foreach (var seed in new[] { high, top })
        {
            using var body = new StringContent($$"""{"prompt":{{JsonSerializer.Serialize(prompt)}},"task_id":"{{id}}","seed":{{seed}},"source":"comfyui"}""", Encoding.UTF8, "application/json");
            var made = await client.PostAsync("/api/media/generate-image", body);
            Assert.Equal(HttpStatusCode.OK, made.StatusCode);
            Assert.Contains($"\"seed\":{seed},", await made.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        var sent = comfy.Prompts.Select(b => b["prompt"]!.AsObject().Select(n => n.Value!).Single(n => n["class_type"]!.GetValue<string>() == "KSampler")["inputs"]!["seed"]!.GetValue<ulong>()).ToList();
        Assert.Equal([high, top], sent[^2..]);

        // Stored and read back exactly, on the task and the image.
        var task = await client.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}");
        var bySeed = task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray()
            .Where(v => v.GetProperty("seed").ValueKind == JsonValueKind.Number && v.GetProperty("seed").GetUInt64() >= high)
            .ToDictionary(v => v.GetProperty("seed").GetUInt64(), v => v.GetProperty("image_id").GetString()!);
        Assert.Equal([high, top], bySeed.Keys.Order());
        var image = await client.GetFromJsonAsync<JsonElement>($"/api/media/images/{bySeed[top]}");
        Assert.Equal(top, image.GetProperty("image").GetProperty("seed").GetUInt64());

        // The candidate's own seed renders the same picture again.
        using (var again = new StringContent($$"""{"prompt":{{JsonSerializer.Serialize(prompt)}},"task_id":"{{id}}","seed":{{top}},"source":"comfyui"}""", Encoding.UTF8, "application/json"))
        {
            var response = await client.PostAsync("/api/media/generate-image", again);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var rerendered = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("image");
            Assert.Equal(top, rerendered.GetProperty("seed").GetUInt64());
            Assert.Equal(
                await client.GetByteArrayAsync($"/api/media/images/{bySeed[top]}/file"),
                await client.GetByteArrayAsync($"/api/media/images/{rerendered.GetProperty("id").GetString()}/file"));
        }

        // Out of range, a fraction, or past 2^63 for a backend that is not ComfyUI: a 400 naming the seed, nothing made.
        var before = comfy.Prompts.Count;
        foreach (var (seed, source) in new[] { ("18446744073709551616", "comfyui"), ("-2", "comfyui"), ("12.5", "comfyui"), ("9223372036854775808", "titlecard"), ("9223372036854775808", "null") })
        {
            using var body = new StringContent($$"""{"prompt":"a lighthouse","task_id":"{{id}}","seed":{{seed}},"source":{{(source == "null" ? "null" : $"\"{source}\"")}}}""", Encoding.UTF8, "application/json");
            var refused = await client.PostAsync("/api/media/generate-image", body);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        }
        Assert.Equal(before, comfy.Prompts.Count);
        app.DeleteFolder();
    }

    [Fact]
    public async Task A_comfyui_candidate_renders_again_alone_from_its_own_seed()
    {
        await using var comfy = await ComfyUIStandIn.StartAsync();
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?>
        {
            ["Images:Providers"] = "comfyui",
            ["Images:ComfyUI:BaseUrls"] = comfy.BaseUrl,
        });
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Reproducible Seeds", 3)).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");
        var second = task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().Single(v => v.GetProperty("index").GetInt32() == 2);
        var seed = second.GetProperty("seed").GetInt64();

        var again = await client.PostAsJsonAsync("/api/media/generate-image", new { prompt = task.GetProperty("image_prompt").GetString(), task_id = id, seed, source = "comfyui" });

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var image = (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("image");
        Assert.Equal(seed, image.GetProperty("seed").GetInt64());
        var original = await client.GetByteArrayAsync($"/api/media/images/{second.GetProperty("image_id").GetString()}/file");
        var rerendered = await client.GetByteArrayAsync($"/api/media/images/{image.GetProperty("id").GetString()}/file");
        Assert.Equal(original, rerendered);
        app.DeleteFolder();
    }

    [Fact]
    public async Task Readiness_asks_the_writer_in_use_for_its_models_once_a_minute_and_says_why_it_fails()
    {
        await using var openai = await OpenAIStandIn.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["Content:Provider"] = "openai",
            ["Content:OpenAI:BaseUrl"] = openai.BaseUrl,
            ["Content:OpenAI:ApiKey"] = openai.AcceptedKey,
            ["Content:OpenAI:Model"] = "gpt-4o-mini",
        };
        await using (var app = await TestApp.StartAsync(database, settings))
        {
            using var anonymous = app.CreateClient();
            var first = (await anonymous.GetFromJsonAsync<JsonElement>("/health/ready")).GetProperty("checks").GetProperty("writer:openai");
            var second = (await anonymous.GetFromJsonAsync<JsonElement>("/health/ready")).GetProperty("checks").GetProperty("writer:openai");

            Assert.Equal("healthy", first.GetProperty("status").GetString());
            Assert.Equal("The OpenAI-compatible service answers and lists model gpt-4o-mini.", first.GetProperty("description").GetString());
            Assert.Equal(first.GetProperty("data").GetProperty("checked at").GetString(), second.GetProperty("data").GetProperty("checked at").GetString());
            Assert.Equal(1, openai.ModelListCalls);
            app.DeleteFolder();
        }

        settings["Content:OpenAI:ApiKey"] = "sk-wrong-key-123456";
        await using (var app = await TestApp.StartAsync(database, settings))
        {
            using var anonymous = app.CreateClient();
            var ready = await anonymous.GetAsync("/health/ready");
            var text = await ready.Content.ReadAsStringAsync();
            var check = JsonDocument.Parse(text).RootElement.GetProperty("checks").GetProperty("writer:openai");

            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Equal("unhealthy", check.GetProperty("status").GetString());
            Assert.Contains("answered 401", check.GetProperty("description").GetString(), StringComparison.Ordinal);
            Assert.Contains("Content:OpenAI:ApiKey", check.GetProperty("description").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain("sk-wrong-key-123456", text, StringComparison.Ordinal);
            app.DeleteFolder();
        }
    }

    [Fact]
    public async Task Readiness_asks_anthropic_for_its_models_and_accepts_an_alias()
    {
        await using var anthropic = await AnthropicStandIn.StartAsync();
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?>
        {
            ["Content:Provider"] = "anthropic",
            ["Content:Anthropic:BaseUrl"] = anthropic.BaseUrl,
            ["Content:Anthropic:ApiKey"] = anthropic.AcceptedKey,
            ["Content:Anthropic:Model"] = "claude-sonnet-4-5",
        });
        using var anonymous = app.CreateClient();

        var check = (await anonymous.GetFromJsonAsync<JsonElement>("/health/ready")).GetProperty("checks").GetProperty("writer:anthropic");

        Assert.Equal("healthy", check.GetProperty("status").GetString());
        Assert.True(check.GetProperty("data").GetProperty("model listed").GetBoolean());
        app.DeleteFolder();
    }

    [Fact]
    public async Task Readiness_pings_cloudinary_with_the_keys_and_names_what_is_wrong()
    {
        await using var cloudinary = await CloudinaryStandIn.StartAsync();
        await using (var app = await TestApp.StartAsync(database, Cloudinary(cloudinary)))
        {
            using var anonymous = app.CreateClient();
            var check = (await anonymous.GetFromJsonAsync<JsonElement>("/health/ready")).GetProperty("checks").GetProperty("publishing:cloudinary");
            Assert.Equal("healthy", check.GetProperty("status").GetString());
            Assert.Equal(1, cloudinary.Pings);
            app.DeleteFolder();
        }
        var wrong = Cloudinary(cloudinary);
        wrong["Publishing:Cloudinary:ApiSecret"] = "not-the-secret-123";
        await using (var app = await TestApp.StartAsync(database, wrong))
        {
            using var anonymous = app.CreateClient();
            var text = await (await anonymous.GetAsync("/health/ready")).Content.ReadAsStringAsync();
            var check = JsonDocument.Parse(text).RootElement.GetProperty("checks").GetProperty("publishing:cloudinary");
            Assert.Equal("unhealthy", check.GetProperty("status").GetString());
            Assert.StartsWith("Cloudinary refused the cloud name or keys", check.GetProperty("description").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain("not-the-secret-123", text, StringComparison.Ordinal);
            app.DeleteFolder();
        }
    }

    [Fact]
    public async Task A_servers_live_preview_reaches_the_tasks_event_stream()
    {
        await using var a1111 = await Automatic1111StandIn.StartAsync();
        a1111.LivePreviews = true;
        a1111.HoldUntilProgressPolls = 5;
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?>
        {
            ["Images:Providers"] = "automatic1111",
            ["Images:Automatic1111:BaseUrls"] = a1111.BaseUrl,
            ["Images:Automatic1111:ProgressInterval"] = "00:00:00.100",
        });
        var started = a1111.JobStarted.Task;
        var id = (await app.CreateTaskAsync("Write about Live Previews", 1)).GetProperty("id").GetString()!;
        await started;
        using var subscription = app.Services.GetRequiredService<Proofsheet.Tasks.TaskEventStream>().Subscribe(id);

        Proofsheet.Tasks.TaskStreamMessage message;
        do
        {
            message = await subscription.Reader.ReadAsync();
        }
        while (message.Type != "preview");

        var preview = Assert.IsType<Proofsheet.Images.LivePreview>(message.Data);
        Assert.Equal("image/png", preview.ContentType);
        await app.WaitForStatusAsync(id, "awaiting_approval");
        app.DeleteFolder();
    }

    [Fact]
    public async Task The_openai_writer_drafts_the_task_and_the_model_and_usage_are_recorded()
    {
        await using var openai = await OpenAIStandIn.StartAsync();
        openai.Then(OpenAIStandIn.Article(promptTokens: 111, completionTokens: 222));
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?>
        {
            ["Content:Provider"] = "openai",
            ["Content:OpenAI:BaseUrl"] = openai.BaseUrl,
            ["Content:OpenAI:ApiKey"] = openai.AcceptedKey,
            ["Content:OpenAI:Model"] = "gpt-4o-mini",
        });
        var id = (await app.CreateTaskAsync("Write about Language Models", 1)).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");

        var expected = StandInArticle.Json();
        Assert.Equal(expected["title"]!.GetValue<string>(), task.GetProperty("title").GetString());
        Assert.Equal(expected["content"]!.GetValue<string>(), task.GetProperty("content").GetString());
        var metadata = task.GetProperty("metadata");
        Assert.Equal("openai", metadata.GetProperty("writer").GetString());
        Assert.Equal("gpt-4o-mini-2024-07-18", metadata.GetProperty("writer_model").GetString());
        Assert.Equal(111, metadata.GetProperty("input_tokens").GetInt32());
        Assert.Equal(222, metadata.GetProperty("output_tokens").GetInt32());
        app.DeleteFolder();
    }

    [Fact]
    public async Task The_openai_writer_rewrites_the_image_prompt_from_reject_feedback_for_the_next_round()
    {
        await using var openai = await OpenAIStandIn.StartAsync();
        openai.Then(OpenAIStandIn.Article())
            .Then(OpenAIStandIn.Article(content: """{"image_prompt":"a sunlit sourdough loaf on a pale oak table, bright morning light"}"""));
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?>
        {
            ["Content:Provider"] = "openai",
            ["Content:OpenAI:BaseUrl"] = openai.BaseUrl,
            ["Content:OpenAI:ApiKey"] = openai.AcceptedKey,
            ["Content:OpenAI:Model"] = "gpt-4o-mini",
        });
        await AssertPromptRewrittenAsync(app, () => openai.Requests.Select(r => r.ToJsonString()).ToList(), "a sunlit sourdough loaf on a pale oak table, bright morning light");
        Assert.Equal("image_prompt", openai.Requests[^1]["response_format"]!["json_schema"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_anthropic_writer_rewrites_the_image_prompt_from_reject_feedback_for_the_next_round()
    {
        await using var anthropic = await AnthropicStandIn.StartAsync();
        anthropic.Then(AnthropicStandIn.ToolCall())
            .Then(AnthropicStandIn.ToolCall(new System.Text.Json.Nodes.JsonObject { ["image_prompt"] = "a sunlit sourdough loaf on a pale oak table, bright morning light" }));
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?>
        {
            ["Content:Provider"] = "anthropic",
            ["Content:Anthropic:BaseUrl"] = anthropic.BaseUrl,
            ["Content:Anthropic:ApiKey"] = anthropic.AcceptedKey,
            ["Content:Anthropic:Model"] = "claude-sonnet-4-5",
        });
        await AssertPromptRewrittenAsync(app, () => anthropic.Requests.Select(r => r.ToJsonString()).ToList(), "a sunlit sourdough loaf on a pale oak table, bright morning light");
        var rewrite = anthropic.Requests[^1];
        Assert.Equal("submit_image_prompt", rewrite["tool_choice"]!["name"]!.GetValue<string>());
        Assert.True(rewrite["tools"]![0]!["strict"]!.GetValue<bool>());
    }

    [Fact]
    public async Task When_the_writer_cannot_rewrite_the_image_prompt_the_feedback_becomes_something_to_avoid()
    {
        await using var openai = await OpenAIStandIn.StartAsync();
        openai.Then(OpenAIStandIn.Article()).Then(OpenAIStandIn.Error(400, "Unsupported value: 'response_format'", "invalid_request_error"));
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?>
        {
            ["Content:Provider"] = "openai",
            ["Content:OpenAI:BaseUrl"] = openai.BaseUrl,
            ["Content:OpenAI:ApiKey"] = openai.AcceptedKey,
            ["Content:OpenAI:Model"] = "gpt-4o-mini",
        });
        using var api = app.Api();
        var id = (await app.CreateTaskAsync("Write about Sourdough Mornings", 1)).GetProperty("id").GetString()!;
        var before = (await app.WaitForStatusAsync(id, "awaiting_approval")).GetProperty("image_prompt").GetString();

        Assert.Equal(HttpStatusCode.OK, (await api.PostAsJsonAsync($"/api/tasks/{id}/reject", new { feedback = "too dark", regenerate = true })).StatusCode);
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");

        Assert.Equal(before, task.GetProperty("image_prompt").GetString());
        var round2 = task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().Single(c => c.GetProperty("round").GetInt32() == 2);
        Assert.Contains("too dark", round2.GetProperty("negative_prompt").GetString(), StringComparison.Ordinal);
        var history = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/history");
        var kept = history.EnumerateArray().Single(e => e.GetProperty("kind").GetString() == "image_prompt_kept");
        Assert.Contains("Unsupported value", kept.GetProperty("detail").GetString(), StringComparison.Ordinal);
        app.DeleteFolder();
    }

    /// <summary>Draft, reject with feedback and regenerate: the writer is asked with the old prompt and the feedback, and round 2 uses its answer.</summary>
    private static async Task AssertPromptRewrittenAsync(TestApp app, Func<List<string>> requests, string rewritten)
    {
        using var api = app.Api();
        var id = (await app.CreateTaskAsync("Write about Sourdough Mornings", 1)).GetProperty("id").GetString()!;
        var before = (await app.WaitForStatusAsync(id, "awaiting_approval")).GetProperty("image_prompt").GetString()!;

        var rejected = await api.PostAsJsonAsync($"/api/tasks/{id}/reject", new { feedback = "too dark and gloomy, make it a bright morning", regenerate = true });
        Assert.Equal(HttpStatusCode.OK, rejected.StatusCode);
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");

        var sent = requests();
        Assert.Equal(2, sent.Count);
        Assert.Contains("too dark and gloomy, make it a bright morning", sent[1], StringComparison.Ordinal);
        Assert.Contains(JsonSerializer.Serialize(before)[1..^1], sent[1], StringComparison.Ordinal);
        Assert.Equal(rewritten, task.GetProperty("image_prompt").GetString());
        var candidates = task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().ToList();
        var round1 = candidates.Single(c => c.GetProperty("round").GetInt32() == 1);
        var round2 = candidates.Single(c => c.GetProperty("round").GetInt32() == 2);
        Assert.Equal(before, round1.GetProperty("prompt").GetString());
        Assert.Equal(rewritten, round2.GetProperty("prompt").GetString());
        // The feedback shaped the prompt; it is not also pushed into the negative prompt.
        Assert.DoesNotContain("gloomy", round2.GetProperty("negative_prompt").GetString() ?? "", StringComparison.Ordinal);
        var history = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/history");
        Assert.Contains(history.EnumerateArray(), e => e.GetProperty("kind").GetString() == "image_prompt_rewritten"
            && e.GetProperty("detail").GetString()!.Contains(rewritten, StringComparison.Ordinal));
        app.DeleteFolder();
    }

    [Fact]
    public async Task A_cloudinary_upload_failing_twice_then_succeeding_publishes_once()
    {
        await using var cloudinary = await CloudinaryStandIn.StartAsync();
        cloudinary.FailuresToReturn.Enqueue(500);
        cloudinary.FailuresToReturn.Enqueue(503);
        await using var app = await TestApp.StartAsync(database, Cloudinary(cloudinary));
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Flaky Uploads", 2)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");

        var approve = await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });
        Assert.True(approve.IsSuccessStatusCode);
        var task = await app.WaitForStatusAsync(id, "published");

        // The image once, after two refused tries; its web copies are Cloudinary's crops of it, not uploads.
        var asset = Assert.Single(cloudinary.Assets.Values, IsOriginal);
        Assert.Single(cloudinary.Assets);
        Assert.Equal(3, cloudinary.Requests);
        var post = await client.GetFromJsonAsync<JsonElement>($"/api/posts/{task.GetProperty("slug").GetString()}");
        var url = post.GetProperty("featured_image_url").GetString()!;
        Assert.StartsWith("https://", url, StringComparison.Ordinal);
        Assert.Contains(asset.PublicId, url, StringComparison.Ordinal);
        var history = await client.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/history");
        Assert.Equal(2, history.EnumerateArray().Count(e => e.GetProperty("kind").GetString() == "attempt_failed"));
        Assert.Single(history.EnumerateArray(), e => e.GetProperty("to_status").GetString() == "published");
        app.DeleteFolder();
    }

    [Fact]
    public async Task Concurrent_approvals_upload_to_cloudinary_once()
    {
        await using var cloudinary = await CloudinaryStandIn.StartAsync();
        cloudinary.Delay = TimeSpan.FromMilliseconds(300);
        await using var app = await TestApp.StartAsync(database, Cloudinary(cloudinary));
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Many Reviewers", 2)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");

        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 2 })));
        Assert.All(answers, a => Assert.True(a.IsSuccessStatusCode, a.StatusCode.ToString()));
        await app.WaitForStatusAsync(id, "published");
        // One upload of the image, however many approvals raced (its web copies are Cloudinary's crops of it).
        Assert.Single(cloudinary.Assets.Values, IsOriginal);
        Assert.Equal(1, cloudinary.Requests);
        app.DeleteFolder();
    }

    /// <summary>The approved image itself, not one of its web copies (<c>-social</c>, <c>-w960</c>, …).</summary>
    private static bool IsOriginal(CloudinaryStandIn.StoredAsset asset) =>
        !asset.PublicId.EndsWith("-social", StringComparison.Ordinal) && !System.Text.RegularExpressions.Regex.IsMatch(asset.PublicId, @"-w\d+$");

    [Fact]
    public async Task Each_publish_sends_one_signed_webhook_even_when_the_receiver_first_fails()
    {
        const string secret = "whsec-test-5e1f";
        var received = new ConcurrentQueue<(string Delivery, string Signature, byte[] Body, int Answer)>();
        var failFirst = 1;
        await using var receiver = await StandInServer.StartAsync(web => web.MapPost("/hook", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            var answer = Interlocked.Decrement(ref failFirst) >= 0 ? 500 : 200;
            received.Enqueue((context.Request.Headers["X-Proofsheet-Delivery"].ToString(), context.Request.Headers["X-Proofsheet-Signature"].ToString(), buffer.ToArray(), answer));
            context.Response.StatusCode = answer;
        }));
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?>
        {
            ["Webhooks:Urls"] = receiver.BaseUrl + "/hook",
            ["Webhooks:Secret"] = secret,
            // Only this event: the task.* events have their own test.
            ["Webhooks:Events"] = "post.published",
            ["Webhooks:RetryBaseDelay"] = "00:00:00.100",
            ["Webhooks:RetryMaxDelay"] = "00:00:00.500",
            ["Webhooks:PollInterval"] = "00:00:00.200",
        });
        using var client = app.Api();
        var slugs = new List<string>();
        foreach (var topic in new[] { "Write about First Hooks", "Write about Second Hooks" })
        {
            var id = (await app.CreateTaskAsync(topic, 1)).GetProperty("id").GetString()!;
            await app.WaitForStatusAsync(id, "awaiting_approval");
            await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });
            slugs.Add((await app.WaitForStatusAsync(id, "published")).GetProperty("slug").GetString()!);
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (received.Count(r => r.Answer == 200) < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        await Task.Delay(500); // anything sent twice would show up now
        var delivered = received.Where(r => r.Answer == 200).ToList();
        Assert.Equal(2, delivered.Count);
        Assert.Equal(2, delivered.Select(r => r.Delivery).Distinct().Count());
        Assert.Equal(3, received.Count); // one failure, retried once
        foreach (var r in received)
        {
            var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), r.Body));
            Assert.Equal(expected, r.Signature);
            var body = JsonDocument.Parse(r.Body).RootElement;
            Assert.Equal("post.published", body.GetProperty("event").GetString());
            Assert.StartsWith("http", body.GetProperty("post").GetProperty("featured_image_url").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal(slugs.Order(), delivered.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("post").GetProperty("slug").GetString()!).Order());
        app.DeleteFolder();
    }

    private static Dictionary<string, string?> Cloudinary(CloudinaryStandIn standIn) => new()
    {
        ["Publishing:Provider"] = "cloudinary",
        ["Publishing:Cloudinary:CloudName"] = CloudinaryStandIn.CloudName,
        ["Publishing:Cloudinary:ApiKey"] = CloudinaryStandIn.ApiKey,
        ["Publishing:Cloudinary:ApiSecret"] = CloudinaryStandIn.ApiSecret,
        ["Publishing:Cloudinary:BaseUrl"] = standIn.BaseUrl,
    };
}

public sealed class SqliteBackendWorkflowTests() : BackendWorkflowTests(new SqliteDatabase());

public sealed class PostgresBackendWorkflowTests() : BackendWorkflowTests(new PostgresDatabase());
