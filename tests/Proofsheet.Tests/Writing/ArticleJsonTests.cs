using System.Text.Json.Nodes;
using Proofsheet.Writing;

namespace Proofsheet.Tests.Writing;

public sealed class ArticleJsonTests
{
    private static JsonObject Valid() => new()
    {
        ["title"] = " Title ",
        ["excerpt"] = "Excerpt.",
        ["content"] = "Body.",
        ["meta_description"] = "Meta.",
        ["keywords"] = new JsonArray("one", "two", "One"),
        ["image_prompt"] = "A picture.",
        ["image_alt"] = "Alt.",
    };

    [Fact]
    public void Parses_every_field_trimmed_with_keywords_deduplicated()
    {
        var draft = ArticleJson.ParseText(Valid().ToJsonString());
        Assert.Equal("Title", draft.Title);
        Assert.Equal("Excerpt.", draft.Excerpt);
        Assert.Equal("Body.", draft.Content);
        Assert.Equal("Meta.", draft.MetaDescription);
        Assert.Equal(["one", "two"], draft.Keywords);
        Assert.Equal("A picture.", draft.ImagePrompt);
        Assert.Equal("Alt.", draft.ImageAlt);
    }

    [Fact]
    public void Accepts_a_json_code_fence_around_the_object()
    {
        Assert.Equal("Title", ArticleJson.ParseText("```json\n" + Valid().ToJsonString() + "\n```").Title);
    }

    [Theory]
    [InlineData("title")]
    [InlineData("excerpt")]
    [InlineData("content")]
    [InlineData("meta_description")]
    [InlineData("keywords")]
    [InlineData("image_prompt")]
    [InlineData("image_alt")]
    public void Rejects_an_answer_missing_any_field(string field)
    {
        var json = Valid();
        json.Remove(field);
        var ex = Assert.Throws<FormatException>(() => ArticleJson.ParseText(json.ToJsonString()));
        Assert.Contains($"\"{field}\" was missing", ex.Message);
    }

    [Fact]
    public void Rejects_empty_strings_wrong_types_and_non_string_keywords()
    {
        var empty = Valid();
        empty["excerpt"] = "";
        Assert.Contains("\"excerpt\" was not a non-empty string", Assert.Throws<FormatException>(() => ArticleJson.ParseText(empty.ToJsonString())).Message);

        var number = Valid();
        number["content"] = 5;
        Assert.Throws<FormatException>(() => ArticleJson.ParseText(number.ToJsonString()));

        var keywordString = Valid();
        keywordString["keywords"] = "a, b";
        Assert.Contains("not an array", Assert.Throws<FormatException>(() => ArticleJson.ParseText(keywordString.ToJsonString())).Message);

        var keywordNumbers = Valid();
        keywordNumbers["keywords"] = new JsonArray("a", 2);
        Assert.Throws<FormatException>(() => ArticleJson.ParseText(keywordNumbers.ToJsonString()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("[1,2]")]
    [InlineData("{\"title\": \"cut off")]
    [InlineData("Here is your article!")]
    public void Rejects_what_is_not_an_object(string text)
    {
        Assert.Throws<FormatException>(() => ArticleJson.ParseText(text));
    }

    [Fact]
    public void Schema_is_strict_mode_compatible()
    {
        var schema = ArticleJson.Schema();
        var properties = schema["properties"]!.AsObject().Select(p => p.Key).Order();
        var required = schema["required"]!.AsArray().Select(r => r!.GetValue<string>()).Order();
        Assert.Equal(properties, required);
        Assert.False(schema["additionalProperties"]!.GetValue<bool>());
    }

    [Fact]
    public void Prompt_carries_topic_tone_audience_and_length_with_defaults_when_absent()
    {
        var prompt = ArticleJson.UserPrompt(new ArticleRequest("Growing tomatoes", "playful", "new gardeners", 800));
        Assert.Contains("Topic: Growing tomatoes", prompt);
        Assert.Contains("Tone: playful", prompt);
        Assert.Contains("Audience: new gardeners", prompt);
        Assert.Contains("about 800 words", prompt);

        var bare = ArticleJson.UserPrompt(new ArticleRequest("Growing tomatoes", null, " ", 800));
        Assert.Contains("Tone: friendly and clear", bare);
        Assert.Contains("Audience: general readers", bare);
    }

    [Fact]
    public void Error_messages_quote_the_service_and_never_the_key()
    {
        const string key = "sk-secret-abcdef123456";
        var ex = WriterFailures.FromStatus("The service", 401,
            $$$"""{"error":{"message":"Incorrect API key provided: {{{key}}}.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}""", key, "Content:OpenAI:ApiKey");
        Assert.DoesNotContain(key, ex.Message);
        Assert.Contains("Incorrect API key provided: [redacted]. [invalid_request_error]", ex.Message);
        Assert.False(ex.Retryable);

        var anthropic = WriterFailures.FromStatus("The service", 529, """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}""", key, "x");
        Assert.Contains("Overloaded [overloaded_error]", anthropic.Message);
        Assert.True(anthropic.Retryable);

        var html = WriterFailures.FromStatus("The service", 502, "<html>Bad gateway</html>", key, "x");
        Assert.Contains("<html>Bad gateway</html>", html.Message);
    }
}
