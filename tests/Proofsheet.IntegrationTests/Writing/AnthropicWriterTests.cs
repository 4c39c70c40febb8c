using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Proofsheet.Writing;

namespace Proofsheet.IntegrationTests.Writing;

public sealed class AnthropicWriterTests
{
    private const string Key = "sk-ant-test-9d8e7f6a5b4c";

    private static ServiceProvider Host(AnthropicStandIn standIn, string apiKey = Key, Action<Dictionary<string, string?>>? tweak = null)
    {
        var settings = WriterHost.Fast(AnthropicWriterOptions.Section, standIn.BaseUrl, apiKey, "claude-sonnet-4-5");
        tweak?.Invoke(settings);
        return WriterHost.Build("anthropic", settings);
    }

    private static IArticleWriter Writer(ServiceProvider sp) => sp.GetRequiredService<ActiveWriter>().Writer;

    [Fact]
    public async Task Writes_a_draft_from_the_forced_tool_call_and_records_model_and_usage()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        standIn.Then(AnthropicStandIn.ToolCall(model: "claude-sonnet-4-5-20250929", inputTokens: 123, outputTokens: 456));
        await using var sp = Host(standIn);

        var writer = Writer(sp);
        var draft = await writer.WriteAsync(WriterHost.Request(), CancellationToken.None);

        Assert.IsType<AnthropicWriter>(writer);
        Assert.Equal("Baking Sourdough at Home", draft.Title);
        Assert.Equal("A patient, practical guide to your first loaf.", draft.Excerpt);
        Assert.Contains("## The bake", draft.Content);
        Assert.Equal("How to bake sourdough at home, from starter to crust.", draft.MetaDescription);
        Assert.Equal(["sourdough", "bread", "baking"], draft.Keywords);
        Assert.Equal("A freshly baked sourdough loaf on a wooden board", draft.ImageAlt);
        Assert.Equal("claude-sonnet-4-5-20250929", draft.Model);
        Assert.Equal(123, draft.InputTokens);
        Assert.Equal(456, draft.OutputTokens);

        Assert.Equal(1, standIn.RequestCount);
        var headers = standIn.Headers[0];
        Assert.Equal(Key, headers["x-api-key"].ToString());
        Assert.Equal("2023-06-01", headers["anthropic-version"].ToString());
        Assert.False(headers.ContainsKey("Authorization")); // the key travels once, in x-api-key
        var request = standIn.Requests[0];
        Assert.Equal("claude-sonnet-4-5", request["model"]!.GetValue<string>());
        Assert.Equal(8192, request["max_tokens"]!.GetValue<int>());
        Assert.Contains("JSON", request["system"]!.GetValue<string>());
        Assert.Equal("tool", request["tool_choice"]!["type"]!.GetValue<string>());
        Assert.Equal("submit_article", request["tool_choice"]!["name"]!.GetValue<string>());
        var tool = request["tools"]!.AsArray().Single()!;
        Assert.Equal("submit_article", tool["name"]!.GetValue<string>());
        Assert.False(tool["input_schema"]!["additionalProperties"]!.GetValue<bool>());
        Assert.Equal(7, tool["input_schema"]!["required"]!.AsArray().Count);
        Assert.True(tool["strict"]!.GetValue<bool>());
        var prompt = request["messages"]!.ToJsonString();
        Assert.Contains("baking sourdough at home", prompt);
        Assert.Contains("warm and encouraging", prompt);
        Assert.Contains("beginner bakers", prompt);
        Assert.Contains("1200 words", prompt);
    }

    [Fact]
    public async Task The_article_streams_and_its_text_is_reported_while_the_tool_input_still_arrives()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        var seenMidway = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var reports = new ConcurrentQueue<string>();
        var progress = new SyncProgress(text => reports.Enqueue(text));
        // Halfway through the tool input, the stand-in waits until the writer has shown part of the article.
        standIn.Then(AnthropicStandIn.ToolCall(inputTokens: 11, outputTokens: 22, halfway: async () => seenMidway.TrySetResult(await progress.FirstAsync)));
        await using var sp = Host(standIn);

        var draft = await Writer(sp).WriteAsync(WriterHost.Request(), progress, CancellationToken.None);

        Assert.True(standIn.Requests[0]["stream"]!.GetValue<bool>());
        var midway = await seenMidway.Task;
        Assert.StartsWith(midway, draft.Content, StringComparison.Ordinal);
        Assert.True(midway.Length < draft.Content.Length);
        Assert.True(reports.Count > 2, $"{reports.Count} reports");
        Assert.Equal(draft.Content, reports.Last());
        Assert.Equal("claude-sonnet-4-5-20250929", draft.Model);
        Assert.Equal(11, draft.InputTokens);
        Assert.Equal(22, draft.OutputTokens);
    }

    [Fact]
    public async Task An_overloaded_error_event_mid_stream_spoils_the_attempt_and_the_one_retry_asks_again()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        standIn.Then(AnthropicStandIn.OverloadedMidStream()).Then(AnthropicStandIn.ToolCall());
        await using var sp = Host(standIn);

        var draft = await Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None);

        Assert.Equal("Baking Sourdough at Home", draft.Title);
        Assert.Equal(2, standIn.RequestCount);
    }

    [Fact]
    public async Task Overloaded_mid_stream_twice_fails_in_plain_words_and_may_be_tried_later()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        standIn.Then(AnthropicStandIn.OverloadedMidStream()).Then(AnthropicStandIn.OverloadedMidStream());
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Contains("overloaded_error", ex.Message);
        Assert.True(ex.Retryable);
        Assert.Equal(2, standIn.RequestCount);
    }

    /// <summary>Reports on the writer's own thread (Progress&lt;T&gt; would post them later), and knows the first.</summary>
    private sealed class SyncProgress(Action<string> report) : IProgress<string>
    {
        private readonly TaskCompletionSource<string> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task<string> FirstAsync => _first.Task;

        public void Report(string value)
        {
            report(value);
            _first.TrySetResult(value);
        }
    }

    [Fact]
    public async Task A_json_text_answer_is_accepted_from_servers_that_ignore_tool_choice()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        standIn.Then(AnthropicStandIn.TextAnswer("```json\n" + StandInArticle.Text() + "\n```"));
        await using var sp = Host(standIn);

        var draft = await Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None);

        Assert.Equal("Baking Sourdough at Home", draft.Title);
        Assert.Equal(1, standIn.RequestCount);
    }

    [Fact]
    public async Task Rate_limit_with_retry_after_is_retried_then_succeeds()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        standIn.Then(AnthropicStandIn.Error(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit",
            new Dictionary<string, string> { ["retry-after"] = "3" }));
        await using var sp = Host(standIn);

        var draft = await Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None);

        Assert.Equal("Baking Sourdough at Home", draft.Title);
        Assert.Equal(2, standIn.RequestCount);
    }

    [Fact]
    public async Task Overloaded_529_is_retried_then_succeeds()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        standIn.Then(AnthropicStandIn.Error(529, "overloaded_error", "Overloaded"));
        await using var sp = Host(standIn);

        var draft = await Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None);

        Assert.Equal("Baking Sourdough at Home", draft.Title);
        Assert.Equal(2, standIn.RequestCount);
    }

    [Fact]
    public async Task Server_error_is_retried_then_succeeds()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        standIn.Then(AnthropicStandIn.Error(500, "api_error", "Internal server error"));
        await using var sp = Host(standIn);

        var draft = await Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None);

        Assert.Equal("Baking Sourdough at Home", draft.Title);
        Assert.Equal(2, standIn.RequestCount);
    }

    [Fact]
    public async Task Persistent_overload_fails_clearly_after_the_retries()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            standIn.Then(AnthropicStandIn.Error(529, "overloaded_error", "Overloaded"));
        }
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(3, standIn.RequestCount);
        Assert.True(ex.Retryable);
        Assert.Contains("529", ex.Message);
        Assert.Contains("Overloaded [overloaded_error]", ex.Message);
    }

    [Fact]
    public async Task Wrong_key_is_not_retried_and_the_key_never_reaches_the_message()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        const string wrongKey = "sk-ant-wrong-1a2b3c4d5e6f";
        await using var sp = Host(standIn, apiKey: wrongKey);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(1, standIn.RequestCount);
        Assert.False(ex.Retryable);
        Assert.Contains("401", ex.Message);
        Assert.Contains("invalid x-api-key [authentication_error]", ex.Message);
        Assert.Contains("Content:Anthropic:ApiKey", ex.Message);
        Assert.DoesNotContain(wrongKey, ex.ToString());
    }

    [Fact]
    public async Task Bad_request_is_not_retried_and_shows_the_service_message()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        standIn.Then(AnthropicStandIn.Error(400, "invalid_request_error", "max_tokens: 8192 > 4096, which is the maximum allowed number of output tokens for claude-3-haiku-20240307"));
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(1, standIn.RequestCount);
        Assert.False(ex.Retryable);
        Assert.Contains("max_tokens: 8192 > 4096", ex.Message);
    }

    [Fact]
    public async Task The_spend_cap_is_not_retried_and_says_so()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        standIn.Then(AnthropicStandIn.SpendCap()).Then(AnthropicStandIn.ToolCall());
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(1, standIn.RequestCount);
        Assert.False(ex.Retryable);
        Assert.Contains("answered 429", ex.Message);
        Assert.Contains("monthly spend limit is reached", ex.Message);
        Assert.Contains("Not retried: retrying cannot help.", ex.Message);
    }

    [Fact]
    public async Task Unknown_model_404_is_not_retried()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        standIn.Then(AnthropicStandIn.Error(404, "not_found_error", "model: claude-sonnet-9"));
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(1, standIn.RequestCount);
        Assert.Contains("model: claude-sonnet-9", ex.Message);
        Assert.Contains("Check the base URL and the model name", ex.Message);
    }

    [Fact]
    public async Task Malformed_tool_input_is_asked_for_once_more_then_fails_clearly()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        var noContent = StandInArticle.Json();
        noContent.Remove("content");
        var numberTitle = StandInArticle.Json();
        numberTitle["title"] = 42;
        standIn.Then(AnthropicStandIn.ToolCall(noContent)).Then(AnthropicStandIn.ToolCall(numberTitle));
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(2, standIn.RequestCount);
        Assert.Contains("twice answered with something other than the article JSON", ex.Message);
        Assert.Contains("\"title\" was not a non-empty string", ex.Message);
    }

    [Fact]
    public async Task Malformed_then_good_answer_succeeds_on_the_second_request()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        standIn.Then(AnthropicStandIn.TextAnswer("I'd be happy to write that article!"));
        await using var sp = Host(standIn);

        var draft = await Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None);

        Assert.Equal(2, standIn.RequestCount);
        Assert.Equal("Baking Sourdough at Home", draft.Title);
    }

    [Fact]
    public async Task Stopping_at_max_tokens_is_retried_once_then_fails_naming_the_setting()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        var partial = StandInArticle.Json();
        partial.Remove("image_alt");
        standIn.Then(AnthropicStandIn.ToolCall(partial, stopReason: "max_tokens")).Then(AnthropicStandIn.ToolCall(partial, stopReason: "max_tokens"));
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(2, standIn.RequestCount);
        Assert.False(ex.Retryable);
        Assert.Contains("output token limit", ex.Message);
        Assert.Contains("Content:Anthropic:MaxTokens", ex.Message);
    }

    [Fact]
    public async Task A_refusal_fails_at_once_and_is_not_retryable()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        standIn.Then(AnthropicStandIn.TextAnswer("I can't write that.", stopReason: "refusal"));
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(1, standIn.RequestCount);
        Assert.False(ex.Retryable);
        Assert.Contains("declined", ex.Message);
    }

    [Fact]
    public async Task A_service_slower_than_the_timeout_fails_with_a_timeout()
    {
        await using var standIn = await AnthropicStandIn.StartAsync();
        standIn.Then(AnthropicStandIn.Slow(TimeSpan.FromSeconds(30)));
        await using var sp = Host(standIn, tweak: s =>
        {
            s["Content:Anthropic:Timeout"] = "00:00:00.300";
            s["Content:Anthropic:MaxRetries"] = "0";
        });

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Contains("did not answer within 0.3 s", ex.Message);
        Assert.Contains("Content:Anthropic:Timeout", ex.Message);
        Assert.Equal(1, standIn.RequestCount);
    }

    [Fact]
    public void Start_up_validation_requires_key_and_model_when_selected()
    {
        using var missing = WriterHost.Build("anthropic", new Dictionary<string, string?>());
        var ex = Assert.Throws<OptionsValidationException>(() => missing.GetRequiredService<IOptions<AnthropicWriterOptions>>().Value);
        Assert.Contains("Content:Anthropic:ApiKey is required", ex.Message);
        Assert.Contains("Content:Anthropic:Model is required", ex.Message);

        using var badUrl = WriterHost.Build("anthropic", new Dictionary<string, string?>
        {
            ["Content:Anthropic:BaseUrl"] = "api.anthropic.com",
            ["Content:Anthropic:ApiKey"] = Key,
            ["Content:Anthropic:Model"] = "claude-sonnet-4-5",
        });
        var urlEx = Assert.Throws<OptionsValidationException>(() => badUrl.GetRequiredService<IOptions<AnthropicWriterOptions>>().Value);
        Assert.Contains("Content:Anthropic:BaseUrl must be an absolute http(s) URL", urlEx.Message);
        Assert.DoesNotContain(Key, urlEx.Message);
    }
}
