using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Proofsheet.Writing;

/// <summary>What every language-model endpoint needs: where it is, who we are, and how patient to be.</summary>
public abstract class ModelEndpointOptions
{
    public string? BaseUrl { get; set; }
    public string? ApiKey { get; set; }
    public string? Model { get; set; }
    /// <summary>How long one attempt may take, from sending the request to the last byte of the answer.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(120);
    /// <summary>Retries after a 408/409/429/5xx answer, a lost connection or a timed-out attempt.</summary>
    [Range(0, 10)] public int MaxRetries { get; set; } = 2;
    /// <summary>First back-off delay when the service does not say how long to wait; it doubles per retry.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>Upper bound on any wait, including one asked for with <c>Retry-After</c>.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(60);

    internal abstract string SectionName { get; }

    internal IEnumerable<string> CommonProblems()
    {
        if (string.IsNullOrWhiteSpace(Model))
        {
            yield return $"{SectionName}:Model is required (the model name the service knows, e.g. llama3.1 or gpt-4o-mini).";
        }
        if (!Uri.TryCreate(BaseUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            yield return $"{SectionName}:BaseUrl must be an absolute http(s) URL.";
        }
        if (Timeout <= TimeSpan.Zero)
        {
            yield return $"{SectionName}:Timeout must be positive.";
        }
        if (RetryBaseDelay < TimeSpan.Zero || MaxRetryDelay < TimeSpan.Zero)
        {
            yield return $"{SectionName}:RetryBaseDelay and {SectionName}:MaxRetryDelay must not be negative.";
        }
    }
}

/// <summary>Any OpenAI-compatible chat endpoint: OpenAI, Ollama's <c>/v1</c>, vLLM, LM Studio, llama.cpp server.</summary>
public sealed class OpenAIWriterOptions : ModelEndpointOptions
{
    public const string Section = "Content:OpenAI";
    public const string OfficialBaseUrl = "https://api.openai.com/v1";

    public OpenAIWriterOptions() => BaseUrl = OfficialBaseUrl;

    /// <summary>Sent as <c>max_completion_tokens</c> when set; local servers mostly ignore it.</summary>
    [Range(1, 1_000_000)] public int? MaxTokens { get; set; }

    internal override string SectionName => Section;
}

public sealed class AnthropicWriterOptions : ModelEndpointOptions
{
    public const string Section = "Content:Anthropic";
    public const string OfficialBaseUrl = "https://api.anthropic.com";

    public AnthropicWriterOptions() => BaseUrl = OfficialBaseUrl;

    /// <summary>The Messages API requires <c>max_tokens</c>; a long article in JSON needs room.</summary>
    [Range(1, 1_000_000)] public int MaxTokens { get; set; } = 8192;

    internal override string SectionName => Section;
}

/// <summary>Checks a writer's keys only when <c>Content:Provider</c> selects it, so unused sections may stay empty.</summary>
internal sealed class OpenAIWriterOptionsValidator(IOptions<ContentOptions> content) : IValidateOptions<OpenAIWriterOptions>
{
    public ValidateOptionsResult Validate(string? name, OpenAIWriterOptions options)
    {
        if (!Selected(content.Value, "openai"))
        {
            return ValidateOptionsResult.Skip;
        }
        var problems = options.CommonProblems().ToList();
        if (string.IsNullOrWhiteSpace(options.ApiKey)
            && Uri.TryCreate(options.BaseUrl, UriKind.Absolute, out var uri) && uri.Host.Equals("api.openai.com", StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"{OpenAIWriterOptions.Section}:ApiKey is required for api.openai.com (local servers such as Ollama need none).");
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    internal static bool Selected(ContentOptions content, string writer) =>
        string.Equals(content.Provider?.Trim(), writer, StringComparison.OrdinalIgnoreCase);
}

internal sealed class AnthropicWriterOptionsValidator(IOptions<ContentOptions> content) : IValidateOptions<AnthropicWriterOptions>
{
    public ValidateOptionsResult Validate(string? name, AnthropicWriterOptions options)
    {
        if (!OpenAIWriterOptionsValidator.Selected(content.Value, "anthropic"))
        {
            return ValidateOptionsResult.Skip;
        }
        var problems = options.CommonProblems().ToList();
        if (string.IsNullOrWhiteSpace(options.ApiKey))
        {
            problems.Add($"{AnthropicWriterOptions.Section}:ApiKey is required.");
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
