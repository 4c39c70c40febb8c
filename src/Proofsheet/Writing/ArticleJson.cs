using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Polly.Timeout;

namespace Proofsheet.Writing;

/// <summary>The JSON a language model is asked to answer with, the prompt that asks for it, and its strict parser.</summary>
internal static class ArticleJson
{
    public const string SchemaName = "blog_article";

    private static readonly string[] StringFields = ["title", "excerpt", "content", "meta_description", "image_prompt", "image_alt"];

    /// <summary>Strict-mode compatible: every property required, no others allowed.</summary>
    public static JsonObject Schema() => new()
    {
        ["type"] = "object",
        ["additionalProperties"] = false,
        ["required"] = new JsonArray("title", "excerpt", "content", "meta_description", "keywords", "image_prompt", "image_alt"),
        ["properties"] = new JsonObject
        {
            ["title"] = Text("The headline of the post, without Markdown."),
            ["excerpt"] = Text("One or two sentences that make a reader want to open the post."),
            ["content"] = Text("The whole article body in Markdown, without the title as a heading."),
            ["meta_description"] = Text("A search-result summary of at most 160 characters."),
            ["keywords"] = new JsonObject
            {
                ["type"] = "array",
                ["description"] = "Three to eight lowercase keywords or short phrases.",
                ["items"] = new JsonObject { ["type"] = "string" },
            },
            ["image_prompt"] = Text("A prompt for an image generator describing a featured image for the post, with no text in the picture."),
            ["image_alt"] = Text("Alt text describing that image for readers who cannot see it."),
        },
    };

    private static JsonObject Text(string description) => new() { ["type"] = "string", ["description"] = description };

    public const string SystemPrompt =
        "You are an experienced blog writer. You write complete, accurate, publishable articles in Markdown. " +
        "You answer with one JSON object that matches the requested schema and nothing else: no code fences, no commentary.";

    public static string UserPrompt(ArticleRequest request)
    {
        var tone = string.IsNullOrWhiteSpace(request.Tone) ? "friendly and clear" : request.Tone.Trim();
        var audience = string.IsNullOrWhiteSpace(request.Audience) ? "general readers" : request.Audience.Trim();
        var sb = new StringBuilder();
        sb.AppendLine("Write a blog post.");
        sb.Append("Topic: ").AppendLine(request.Topic.Trim());
        sb.Append("Tone: ").AppendLine(tone);
        sb.Append("Audience: ").AppendLine(audience);
        sb.Append("Length: about ").Append(request.TargetWords.ToString(CultureInfo.InvariantCulture)).AppendLine(" words in the article body.");
        sb.AppendLine();
        sb.AppendLine("Answer with a JSON object with these fields, all of them non-empty:");
        sb.AppendLine("- title: the headline, plain text.");
        sb.AppendLine("- excerpt: one or two sentences for post listings.");
        sb.AppendLine("- content: the full article in Markdown. Start with the first paragraph (no top-level # title); use ## headings for sections.");
        sb.AppendLine("- meta_description: at most 160 characters, for search engines.");
        sb.AppendLine("- keywords: an array of 3 to 8 lowercase keywords or short phrases.");
        sb.AppendLine("- image_prompt: a vivid description of a featured image for an image generator, with no text, letters or logos in it.");
        sb.AppendLine("- image_alt: alt text that describes that image.");
        return sb.ToString();
    }

    /// <exception cref="FormatException">The text is not the article object the schema asks for.</exception>
    public static ArticleDraft ParseText(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new FormatException("the answer was empty");
        }
        var json = text.Trim();
        if (json.StartsWith("```", StringComparison.Ordinal))
        {
            // Some models fence JSON even when told not to; the fence is wrapping, not content.
            var firstLine = json.IndexOf('\n', StringComparison.Ordinal);
            var close = json.LastIndexOf("```", StringComparison.Ordinal);
            if (firstLine > 0 && close > firstLine)
            {
                json = json[(firstLine + 1)..close].Trim();
            }
        }
        try
        {
            using var doc = JsonDocument.Parse(json);
            return Parse(doc.RootElement);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"the answer was not valid JSON ({ex.Message})", ex);
        }
    }

    /// <exception cref="FormatException">The element is not the article object the schema asks for.</exception>
    public static ArticleDraft Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"the answer was a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object");
        }
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var field in StringFields)
        {
            if (!root.TryGetProperty(field, out var value))
            {
                throw new FormatException($"the field \"{field}\" was missing");
            }
            if (value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(value.GetString()))
            {
                throw new FormatException($"the field \"{field}\" was not a non-empty string");
            }
            values[field] = value.GetString()!.Trim();
        }
        if (!root.TryGetProperty("keywords", out var keywords))
        {
            throw new FormatException("the field \"keywords\" was missing");
        }
        if (keywords.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("the field \"keywords\" was not an array");
        }
        var list = new List<string>();
        foreach (var keyword in keywords.EnumerateArray())
        {
            if (keyword.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(keyword.GetString()))
            {
                throw new FormatException("the field \"keywords\" held something other than non-empty strings");
            }
            list.Add(keyword.GetString()!.Trim());
        }
        return new ArticleDraft(values["title"], values["excerpt"], values["content"], values["image_prompt"], values["image_alt"])
        {
            MetaDescription = values["meta_description"],
            Keywords = list.Distinct(StringComparer.OrdinalIgnoreCase).ToList(),
        };
    }
}

/// <summary>Turns what went wrong talking to a model service into a <see cref="WriterException"/> a reviewer can act on.</summary>
internal static class WriterFailures
{
    public static WriterException FromStatus(string service, int status, string? body, string? apiKey, string keySetting)
    {
        var reason = ServiceMessage(body);
        var code = (HttpStatusCode)status;
        var hint = status switch
        {
            401 => $" Check {keySetting}.",
            403 => " The key is not allowed to use this model or endpoint.",
            404 => " Check the base URL and the model name.",
            429 when body?.Contains("enforced_spend_limit_reached", StringComparison.Ordinal) == true =>
                " The organisation's monthly spend limit is reached; requests resume next month or after moving to a higher usage tier. Not retried: retrying cannot help.",
            429 when IsOutOfCredit(body) => " The account is out of credit or over its spend limit. Not retried: retrying cannot help.",
            429 => " The service is rate limiting or the account is out of credit.",
            _ => "",
        };
        var message = $"{service} answered {status} ({code}){(reason is null ? "." : $": {reason}")}{hint}";
        return new WriterException(Redact(message, apiKey), retryable: ModelHttpResilienceHandler.IsRetryableStatus(code) && !IsOutOfCredit(body));
    }

    /// <summary>A 429 that waiting cannot cure: OpenAI's insufficient_quota and spend-limit codes, Anthropic's spend cap
    /// (<c>error.details.error_code: enforced_spend_limit_reached</c>, sent without retry-after).</summary>
    public static bool IsOutOfCredit(string? body) =>
        body is not null && OutOfCreditCodes.Any(c => body.Contains(c, StringComparison.Ordinal));

    private static readonly string[] OutOfCreditCodes =
    [
        "insufficient_quota", "enforced_spend_limit_reached", "organization_spend_limit_exceeded", "project_spend_limit_exceeded", "credit_balance_exhausted",
    ];

    public static WriterException Unreachable(string service, string baseUrl, Exception ex, string? apiKey) =>
        new(Redact($"Could not reach {service} at {baseUrl}: {ex.Message}", apiKey), retryable: true);

    public static WriterException TimedOut(string service, TimeSpan timeout, string timeoutSetting) =>
        new($"{service} did not answer within {timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s (the limit set by {timeoutSetting}).", retryable: true);

    /// <summary>The <c>error.message</c> of an OpenAI- or Anthropic-shaped error body, or a short plain-text body.</summary>
    public static string? ServiceMessage(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.String)
                {
                    return error.GetString(); // Ollama's native shape
                }
                if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
                {
                    var type = error.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                    return type is null ? message.GetString() : $"{message.GetString()} [{type}]";
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: a proxy's HTML page or plain text; show the start of it.
        }
        var trimmed = body.Trim();
        return trimmed.Length <= 300 ? trimmed : trimmed[..300] + "…";
    }

    /// <summary>Services may echo the key back in an error; it must never reach a message.</summary>
    public static string Redact(string message, string? apiKey) =>
        string.IsNullOrEmpty(apiKey) || apiKey.Length < 4 ? message : message.Replace(apiKey, "[redacted]", StringComparison.Ordinal);

    public static bool IsTimeout(Exception ex) => Find<TimeoutRejectedException>(ex) is not null;

    public static T? Find<T>(Exception? ex) where T : Exception
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is T found)
            {
                return found;
            }
        }
        return null;
    }
}

/// <summary>One exchange with a model: a usable draft, or why not.</summary>
internal sealed record ModelAttempt(ArticleDraft? Draft, string? Problem = null, bool Truncated = false);

internal static class ModelAnswers
{
    /// <summary>
    /// A model that answers with broken or cut-off JSON usually does better on a second try; a third
    /// rarely helps and doubles the cost again, so one retry, then a clear failure.
    /// </summary>
    public static async Task<ArticleDraft> WithOneRetryAsync(
        string service, string maxTokensSetting, ILogger logger, Func<CancellationToken, Task<ModelAttempt>> exchange, CancellationToken cancellationToken)
    {
        ModelAttempt last = new(null);
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            last = await exchange(cancellationToken);
            if (last.Draft is not null)
            {
                return last.Draft;
            }
            logger.LogWarning("{Service} gave an unusable answer on attempt {Attempt}: {Problem}", service, attempt, last.Problem);
        }
        return last.Truncated
            ? throw new WriterException($"{service} stopped at its output token limit twice, so the article JSON was cut off. Raise {maxTokensSetting} or ask for fewer words.", retryable: false)
            : throw new WriterException($"{service} twice answered with something other than the article JSON: {last.Problem}.", retryable: true);
    }
}
