using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Proofsheet.Writing;

namespace Proofsheet.IntegrationTests.Writing;

public sealed class OpenAIWriterTests
{
    private const string Key = "sk-test-4f9c2a7e1b3d";

    private static ServiceProvider Host(OpenAIStandIn standIn, string? apiKey = Key, Action<Dictionary<string, string?>>? tweak = null)
    {
        var settings = WriterHost.Fast(OpenAIWriterOptions.Section, standIn.BaseUrl, apiKey, "gpt-4o-mini");
        tweak?.Invoke(settings);
        return WriterHost.Build("openai", settings);
    }

    private static IArticleWriter Writer(ServiceProvider sp) => sp.GetRequiredService<ActiveWriter>().Writer;

    [Fact]
    public async Task Writes_a_draft_from_the_structured_answer_and_records_model_and_usage()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        standIn.Then(OpenAIStandIn.Article(model: "gpt-4o-mini-2024-07-18", promptTokens: 111, completionTokens: 222));
        await using var sp = Host(standIn);

        var writer = Writer(sp);
        var draft = await writer.WriteAsync(WriterHost.Request(), CancellationToken.None);

        Assert.IsType<OpenAIWriter>(writer);
        Assert.Equal("Baking Sourdough at Home", draft.Title);
        Assert.Equal("A patient, practical guide to your first loaf.", draft.Excerpt);
        Assert.Contains("## The starter", draft.Content);
        Assert.Equal("How to bake sourdough at home, from starter to crust.", draft.MetaDescription);
        Assert.Equal(["sourdough", "bread", "baking"], draft.Keywords);
        Assert.StartsWith("A rustic sourdough loaf", draft.ImagePrompt);
        Assert.Equal("A freshly baked sourdough loaf on a wooden board", draft.ImageAlt);
        Assert.Equal("gpt-4o-mini-2024-07-18", draft.Model);
        Assert.Equal(111, draft.InputTokens);
        Assert.Equal(222, draft.OutputTokens);

        Assert.Equal(1, standIn.RequestCount);
        Assert.Equal($"Bearer {Key}", standIn.AuthorizationHeaders[0]);
        var request = standIn.Requests[0];
        Assert.Equal("gpt-4o-mini", request["model"]!.GetValue<string>());
        var format = request["response_format"]!;
        Assert.Equal("json_schema", format["type"]!.GetValue<string>());
        Assert.True(format["json_schema"]!["strict"]!.GetValue<bool>());
        var required = format["json_schema"]!["schema"]!["required"]!.AsArray().Select(r => r!.GetValue<string>()).Order();
        Assert.Equal(["content", "excerpt", "image_alt", "image_prompt", "keywords", "meta_description", "title"], required);
        var prompt = string.Join("\n", request["messages"]!.AsArray().Select(m => m!["content"]!.ToJsonString()));
        Assert.Contains("baking sourdough at home", prompt);
        Assert.Contains("warm and encouraging", prompt);
        Assert.Contains("beginner bakers", prompt);
        Assert.Contains("1200 words", prompt);
    }

    [Fact]
    public async Task Sends_a_placeholder_key_when_none_is_configured_as_local_servers_need_none()
    {
        await using var standIn = await OpenAIStandIn.StartAsync(acceptedKey: null);
        await using var sp = Host(standIn, apiKey: null);

        var draft = await Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None);

        Assert.Equal("Baking Sourdough at Home", draft.Title);
        Assert.Equal("Bearer no-key", standIn.AuthorizationHeaders.Single());
    }

    [Fact]
    public async Task Rate_limit_with_retry_after_is_retried_then_succeeds()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        standIn.Then(OpenAIStandIn.Error(429, "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.",
            "requests", "rate_limit_exceeded", new Dictionary<string, string> { ["retry-after"] = "2" }));
        await using var sp = Host(standIn);

        var draft = await Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None);

        Assert.Equal("Baking Sourdough at Home", draft.Title);
        Assert.Equal(2, standIn.RequestCount);
    }

    [Fact]
    public async Task Server_error_is_retried_then_succeeds()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        standIn.Then(OpenAIStandIn.Error(500, "The server had an error while processing your request. Sorry about that!", "server_error"));
        await using var sp = Host(standIn);

        var draft = await Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None);

        Assert.Equal("Baking Sourdough at Home", draft.Title);
        Assert.Equal(2, standIn.RequestCount);
    }

    [Fact]
    public async Task Server_errors_beyond_max_retries_fail_clearly_and_retryably()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            standIn.Then(OpenAIStandIn.Error(503, "The engine is currently overloaded, please try again later.", "server_error", "server_is_overloaded"));
        }
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(3, standIn.RequestCount); // the first try and MaxRetries = 2
        Assert.True(ex.Retryable);
        Assert.Contains("503", ex.Message);
        Assert.Contains("currently overloaded", ex.Message);
    }

    [Fact]
    public async Task Should_retry_false_from_the_service_is_obeyed()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        standIn.Then(OpenAIStandIn.Error(500, "Do not retry this one.", "server_error", headers: new Dictionary<string, string> { ["x-should-retry"] = "false" }));
        await using var sp = Host(standIn);

        await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(1, standIn.RequestCount);
    }

    [Fact]
    public async Task Wrong_key_is_not_retried_and_the_key_never_reaches_the_message()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        const string wrongKey = "sk-wrong-7e7e7e7e7e7e";
        await using var sp = Host(standIn, apiKey: wrongKey);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(1, standIn.RequestCount);
        Assert.False(ex.Retryable);
        Assert.Contains("401", ex.Message);
        Assert.Contains("Incorrect API key provided", ex.Message);
        Assert.Contains("Content:OpenAI:ApiKey", ex.Message);
        Assert.DoesNotContain(wrongKey, ex.ToString());
    }

    [Fact]
    public async Task Bad_request_is_not_retried_and_shows_the_service_message()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        standIn.Then(OpenAIStandIn.Error(400, "The model `gpt-4o-mini` does not support 'json_schema'.", "invalid_request_error"));
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(1, standIn.RequestCount);
        Assert.False(ex.Retryable);
        Assert.Contains("does not support 'json_schema'", ex.Message);
    }

    [Fact]
    public async Task Out_of_credit_429_is_not_retried()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        standIn.Then(OpenAIStandIn.Error(429, "You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota"));
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(1, standIn.RequestCount);
        Assert.False(ex.Retryable);
        Assert.Contains("exceeded your current quota", ex.Message);
    }

    [Fact]
    public async Task Malformed_json_is_asked_for_once_more_then_fails_clearly()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        standIn.Then(OpenAIStandIn.Article(content: "{\"title\": \"Baking"))
               .Then(OpenAIStandIn.Article(content: "Sure! Here is your article about sourdough."));
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(2, standIn.RequestCount);
        Assert.Contains("twice answered with something other than the article JSON", ex.Message);
        Assert.Contains("not valid JSON", ex.Message);
    }

    [Fact]
    public async Task Malformed_then_good_answer_succeeds_on_the_second_request()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        var missingAlt = StandInArticle.Json();
        missingAlt.Remove("image_alt");
        standIn.Then(OpenAIStandIn.Article(content: missingAlt.ToJsonString()));
        await using var sp = Host(standIn);

        var draft = await Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None);

        Assert.Equal(2, standIn.RequestCount);
        Assert.Equal("A freshly baked sourdough loaf on a wooden board", draft.ImageAlt);
    }

    [Fact]
    public async Task Fields_of_the_wrong_type_are_rejected()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        var badKeywords = StandInArticle.Json();
        badKeywords["keywords"] = "sourdough, bread";
        var emptyTitle = StandInArticle.Json();
        emptyTitle["title"] = " ";
        standIn.Then(OpenAIStandIn.Article(content: badKeywords.ToJsonString())).Then(OpenAIStandIn.Article(content: emptyTitle.ToJsonString()));
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Contains("\"title\" was not a non-empty string", ex.Message);
    }

    [Fact]
    public async Task The_answer_is_streamed_and_the_article_text_is_reported_as_it_grows()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        await using var sp = Host(standIn);
        var pieces = new List<string>();

        var draft = await Writer(sp).WriteAsync(WriterHost.Request(), new InlineProgress(pieces.Add), CancellationToken.None);

        var request = standIn.Requests.Single();
        Assert.True(request["stream"]!.GetValue<bool>());
        Assert.True(request["stream_options"]!["include_usage"]!.GetValue<bool>());
        Assert.True(pieces.Count > 3);
        Assert.All(pieces.Zip(pieces.Skip(1)), p => Assert.StartsWith(p.First, p.Second, StringComparison.Ordinal));
        Assert.Equal(draft.Content, pieces[^1]);
        Assert.Equal(654, draft.OutputTokens);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(900)]
    public async Task A_local_server_gets_max_tokens_which_ollama_reads_not_max_completion_tokens(int? maxTokens)
    {
        await using var standIn = await OpenAIStandIn.StartAsync(acceptedKey: null);
        await using var sp = Host(standIn, tweak: s => s["Content:OpenAI:MaxTokens"] = maxTokens?.ToString(System.Globalization.CultureInfo.InvariantCulture));

        await Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None);

        var request = standIn.Requests.Single();
        Assert.Null(request["max_completion_tokens"]);
        Assert.Equal(maxTokens, request["max_tokens"]?.GetValue<int>());
    }

    private sealed class InlineProgress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }

    [Fact]
    public async Task Truncated_answer_is_retried_once_then_fails_naming_the_token_limit()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        var cut = StandInArticle.Text()[..60];
        standIn.Then(OpenAIStandIn.Article(content: cut, finishReason: "length")).Then(OpenAIStandIn.Article(content: cut, finishReason: "length"));
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(2, standIn.RequestCount);
        Assert.Contains("output token limit", ex.Message);
        Assert.Contains("Content:OpenAI:MaxTokens", ex.Message);
    }

    [Fact]
    public async Task A_refusal_fails_at_once_and_is_not_retryable()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        standIn.Then(OpenAIStandIn.Refusal("I'm sorry, I can't help with that request."));
        await using var sp = Host(standIn);

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Equal(1, standIn.RequestCount);
        Assert.False(ex.Retryable);
        Assert.Contains("declined", ex.Message);
        Assert.Contains("I can't help with that request", ex.Message);
    }

    [Fact]
    public async Task A_service_slower_than_the_timeout_fails_with_a_timeout()
    {
        await using var standIn = await OpenAIStandIn.StartAsync();
        standIn.Then(OpenAIStandIn.Slow(TimeSpan.FromSeconds(30))).Then(OpenAIStandIn.Slow(TimeSpan.FromSeconds(30)));
        await using var sp = Host(standIn, tweak: s =>
        {
            s["Content:OpenAI:Timeout"] = "00:00:00.300";
            s["Content:OpenAI:MaxRetries"] = "1";
        });

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Contains("did not answer within 0.3 s", ex.Message);
        Assert.Contains("Content:OpenAI:Timeout", ex.Message);
        Assert.True(ex.Retryable);
        Assert.Equal(2, standIn.RequestCount); // a timed-out attempt is retried like a lost connection
    }

    [Fact]
    public async Task An_unreachable_service_fails_clearly()
    {
        string baseUrl;
        await using (var gone = await OpenAIStandIn.StartAsync())
        {
            baseUrl = gone.BaseUrl;
        }
        await using var sp = WriterHost.Build("openai", WriterHost.Fast(OpenAIWriterOptions.Section, baseUrl, Key, "gpt-4o-mini"));

        var ex = await Assert.ThrowsAsync<WriterException>(() => Writer(sp).WriteAsync(WriterHost.Request(), CancellationToken.None));

        Assert.Contains($"Could not reach The OpenAI-compatible service at {baseUrl}", ex.Message);
        Assert.True(ex.Retryable);
    }

    [Fact]
    public void Start_up_validation_names_the_missing_keys_of_the_selected_writer()
    {
        using var missing = WriterHost.Build("openai", new Dictionary<string, string?>());
        var ex = Assert.Throws<OptionsValidationException>(() => missing.GetRequiredService<IOptions<OpenAIWriterOptions>>().Value);
        Assert.Contains("Content:OpenAI:Model is required", ex.Message);
        Assert.Contains("Content:OpenAI:ApiKey is required for api.openai.com", ex.Message);

        using var ollama = WriterHost.Build("openai", new Dictionary<string, string?>
        {
            ["Content:OpenAI:BaseUrl"] = "http://localhost:11434/v1",
            ["Content:OpenAI:Model"] = "llama3.1",
        });
        Assert.Equal("llama3.1", ollama.GetRequiredService<IOptions<OpenAIWriterOptions>>().Value.Model);

        using var unselected = WriterHost.Build("outline", new Dictionary<string, string?>());
        Assert.Null(unselected.GetRequiredService<IOptions<OpenAIWriterOptions>>().Value.Model);
        Assert.IsType<OutlineWriter>(unselected.GetRequiredService<ActiveWriter>().Writer);
    }

    [Fact]
    public void The_key_does_not_appear_in_the_options_text()
    {
        using var sp = WriterHost.Build("openai", new Dictionary<string, string?>
        {
            ["Content:OpenAI:Model"] = "gpt-4o-mini",
            ["Content:OpenAI:ApiKey"] = Key,
        });
        Assert.DoesNotContain(Key, sp.GetRequiredService<IOptions<OpenAIWriterOptions>>().Value.ToString());
        Assert.DoesNotContain(Key, JsonValue.Create(sp.GetRequiredService<ActiveWriter>().ToString())!.ToJsonString());
    }
}
