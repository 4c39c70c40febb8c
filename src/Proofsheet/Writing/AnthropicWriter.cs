using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Core;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using Microsoft.Extensions.Options;

namespace Proofsheet.Writing;

/// <summary>
/// Writes through Anthropic's Messages API. The article comes back as the input of a forced tool call,
/// which the API checks against the tool's JSON schema, rather than as free text.
/// </summary>
public sealed class AnthropicWriter(IHttpClientFactory httpClients, IOptions<AnthropicWriterOptions> options, ILogger<AnthropicWriter> logger) : IArticleWriter, IImagePromptWriter
{
    internal const string PromptToolName = "submit_image_prompt";

    public const string HttpClientName = "Proofsheet.Writing.Anthropic";
    internal const string ToolName = "submit_article";
    private const string Service = "The Anthropic API";

    public string Name => "anthropic";

    public async Task<ArticleDraft> WriteAsync(ArticleRequest request, IProgress<string>? textSoFar, CancellationToken cancellationToken)
    {
        var o = options.Value;
        using var client = new AnthropicClient(new ClientOptions
        {
            HttpClient = httpClients.CreateClient(HttpClientName),
            BaseUrl = o.BaseUrl!.TrimEnd('/'),
            ApiKey = o.ApiKey,
            // Retries and timeouts live in ModelHttpResilienceHandler, so the SDK must not add its own.
            MaxRetries = 0,
            Timeout = Timeout.InfiniteTimeSpan,
        });
        var schema = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(ArticleJson.Schema().ToJsonString())!;
        var parameters = new MessageCreateParams
        {
            Model = o.Model!,
            MaxTokens = o.MaxTokens,
            System = ArticleJson.SystemPrompt,
            Messages = [new UserMessageParam(ArticleJson.UserPrompt(request))],
            Tools = [new Tool
            {
                Name = ToolName,
                Description = "Submit the finished blog article.",
                InputSchema = new InputSchema(schema),
                // Strict tool use: the API guarantees the input matches the schema rather than trying to.
                Strict = true,
            }],
            ToolChoice = new ToolChoiceTool(ToolName),
        };

        return await ModelAnswers.WithOneRetryAsync(Service, $"{AnthropicWriterOptions.Section}:MaxTokens", logger,
            ct => StreamAsync(client, parameters, textSoFar, o, ct), cancellationToken);
    }

    /// <summary>A new image prompt from a reviewer's feedback: a forced strict tool call, one short answer, not streamed.</summary>
    public async Task<string> RewriteImagePromptAsync(ImagePromptRequest request, CancellationToken cancellationToken)
    {
        var o = options.Value;
        using var client = new AnthropicClient(new ClientOptions
        {
            HttpClient = httpClients.CreateClient(HttpClientName),
            BaseUrl = o.BaseUrl!.TrimEnd('/'),
            ApiKey = o.ApiKey,
            MaxRetries = 0,
            Timeout = Timeout.InfiniteTimeSpan,
        });
        var schema = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(ImagePromptJson.Schema().ToJsonString())!;
        var parameters = new MessageCreateParams
        {
            Model = o.Model!,
            MaxTokens = 1024,
            System = ImagePromptJson.SystemPrompt,
            Messages = [new UserMessageParam(ImagePromptJson.UserPrompt(request))],
            Tools = [new Tool
            {
                Name = PromptToolName,
                Description = "Submit the rewritten image prompt.",
                InputSchema = new InputSchema(schema),
                Strict = true,
            }],
            ToolChoice = new ToolChoiceTool(PromptToolName),
        };
        var message = await CreateAsync(client, parameters, o, cancellationToken);
        if (message.StopReason?.Raw() == "refusal")
        {
            throw new WriterException("The model declined to rewrite the image prompt (stop_reason \"refusal\").", retryable: false);
        }
        try
        {
            foreach (var block in message.Content ?? [])
            {
                if (block.TryPickToolUse(out var toolUse) && toolUse.Name == PromptToolName)
                {
                    return ImagePromptJson.Parse(JsonSerializer.SerializeToElement(toolUse.Input));
                }
            }
            return ImagePromptJson.ParseText(string.Concat((message.Content ?? []).Select(b => b.TryPickText(out var t) ? t.Text : "")));
        }
        catch (FormatException ex)
        {
            throw new WriterException($"{Service} did not answer with an image prompt: {ex.Message}.", retryable: true);
        }
    }

    private static async Task<Message> CreateAsync(AnthropicClient client, MessageCreateParams parameters, AnthropicWriterOptions o, CancellationToken cancellationToken)
    {
        try
        {
            return await client.Messages.Create(parameters, cancellationToken);
        }
        catch (AnthropicApiException ex)
        {
            throw WriterFailures.FromStatus(Service, (int)ex.StatusCode, ex.ResponseBody, o.ApiKey, $"{AnthropicWriterOptions.Section}:ApiKey");
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && WriterFailures.IsTimeout(ex))
        {
            throw WriterFailures.TimedOut(Service, o.Timeout, $"{AnthropicWriterOptions.Section}:Timeout");
        }
        catch (Exception ex) when (ex is AnthropicIOException or HttpRequestException)
        {
            throw WriterFailures.Unreachable(Service, o.BaseUrl!, (Exception?)WriterFailures.Find<HttpRequestException>(ex) ?? ex, o.ApiKey);
        }
        catch (AnthropicException ex)
        {
            throw new WriterException(WriterFailures.Redact($"{Service} gave an answer the SDK could not read: {ex.Message}", o.ApiKey), retryable: true);
        }
    }

    /// <summary>
    /// Streams the answer (Messages API server-sent events): the tool input arrives as <c>input_json_delta</c>
    /// pieces, and <paramref name="draft"/> is told the article text as it grows. An <c>error</c> event after
    /// the stream began (<c>overloaded_error</c>) spoils the attempt; the one retry asks again.
    /// </summary>
    private static async Task<ModelAttempt> StreamAsync(
        AnthropicClient client, MessageCreateParams parameters, IProgress<string>? draft, AnthropicWriterOptions o, CancellationToken cancellationToken)
    {
        // Until the answer starts, the resilience handler times each try and retries; this only bounds them all.
        // Once it streams, the stream as a whole gets one timeout.
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(o.Timeout * (o.MaxRetries + 1) + o.MaxRetryDelay * o.MaxRetries + TimeSpan.FromSeconds(1));
        var streaming = false;
        var toolJson = new StringBuilder();
        var text = new StringBuilder();
        var toolBlocks = new HashSet<long>();
        string? stop = null;
        string? model = null;
        long? inputTokens = null;
        long? outputTokens = null;
        var reported = 0;
        try
        {
            await foreach (var item in client.Messages.CreateStreaming(parameters, attempt.Token))
            {
                if (!streaming)
                {
                    streaming = true;
                    attempt.CancelAfter(o.Timeout);
                }
                if (item.TryPickStart(out var start))
                {
                    model = start.Message.Model.Raw();
                    inputTokens = start.Message.Usage.InputTokens;
                }
                else if (item.TryPickContentBlockStart(out var blockStart))
                {
                    if (blockStart.ContentBlock.TryPickToolUse(out var toolUse) && toolUse.Name == ToolName)
                    {
                        toolBlocks.Add(blockStart.Index);
                    }
                }
                else if (item.TryPickContentBlockDelta(out var delta))
                {
                    if (delta.Delta.TryPickInputJson(out var json) && toolBlocks.Contains(delta.Index))
                    {
                        toolJson.Append(json.PartialJson);
                    }
                    else if (delta.Delta.TryPickText(out var piece))
                    {
                        text.Append(piece.Text);
                    }
                    var sofar = PartialArticle.Content(toolBlocks.Count > 0 ? toolJson.ToString() : text.ToString());
                    if (draft is not null && sofar is not null && sofar.Length > reported)
                    {
                        reported = sofar.Length;
                        draft.Report(sofar);
                    }
                }
                else if (item.TryPickDelta(out var messageDelta))
                {
                    stop = messageDelta.Delta.StopReason?.Raw() ?? stop;
                    outputTokens = messageDelta.Usage.OutputTokens;
                }
            }
        }
        catch (AnthropicApiException ex)
        {
            throw WriterFailures.FromStatus(Service, (int)ex.StatusCode, ex.ResponseBody, o.ApiKey, $"{AnthropicWriterOptions.Section}:ApiKey");
        }
        catch (Exception ex) when (streaming && StreamError(ex) is { } error)
        {
            // The service gave up mid-answer: what came so far is no article.
            return new ModelAttempt(null, $"the answer broke off with {error}");
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && (WriterFailures.IsTimeout(ex) || ex is OperationCanceledException))
        {
            throw WriterFailures.TimedOut(Service, o.Timeout, $"{AnthropicWriterOptions.Section}:Timeout");
        }
        catch (Exception ex) when (ex is AnthropicIOException or HttpRequestException)
        {
            throw WriterFailures.Unreachable(Service, o.BaseUrl!, (Exception?)WriterFailures.Find<HttpRequestException>(ex) ?? ex, o.ApiKey);
        }
        catch (AnthropicException ex)
        {
            throw new WriterException(WriterFailures.Redact($"{Service} gave an answer the SDK could not read: {ex.Message}", o.ApiKey), retryable: true);
        }
        return Read(stop, toolBlocks.Count > 0 ? toolJson.ToString() : null, text.ToString(), model, inputTokens, outputTokens);
    }

    /// <summary>The error type of an <c>error</c> event in the stream (e.g. <c>overloaded_error</c>), as the SDK reports it.</summary>
    private static string? StreamError(Exception ex)
    {
        var message = ex.Message;
        foreach (var type in new[] { "overloaded_error", "api_error", "rate_limit_error" })
        {
            if (message.Contains(type, StringComparison.Ordinal))
            {
                return $"an {type} event";
            }
        }
        return null;
    }

    private static ModelAttempt Read(string? stop, string? toolJson, string text, string? model, long? inputTokens, long? outputTokens)
    {
        if (stop == "refusal")
        {
            throw new WriterException("The model declined to write this article (stop_reason \"refusal\"). Rephrase the topic.", retryable: false);
        }
        if (stop == "max_tokens")
        {
            return new ModelAttempt(null, "it stopped at the output token limit (stop_reason \"max_tokens\")", Truncated: true);
        }
        try
        {
            var draft = ParseContent(toolJson, text);
            return new ModelAttempt(draft with
            {
                Model = model,
                InputTokens = inputTokens is { } i ? (int)Math.Min(i, int.MaxValue) : null,
                OutputTokens = outputTokens is { } u ? (int)Math.Min(u, int.MaxValue) : null,
            });
        }
        catch (JsonException ex)
        {
            return new ModelAttempt(null, $"the tool input is not JSON ({ex.Message})");
        }
        catch (FormatException ex)
        {
            return new ModelAttempt(null, ex.Message);
        }
    }

    private static ArticleDraft ParseContent(string? toolJson, string text)
    {
        if (toolJson is not null)
        {
            // A tool call with no input at all streams no input_json_delta: its input is {}.
            using var input = JsonDocument.Parse(toolJson.Length == 0 ? "{}" : toolJson);
            return ArticleJson.Parse(input.RootElement);
        }
        // Anthropic-compatible servers that ignore tool_choice answer in text; the JSON may still be there.
        return string.IsNullOrWhiteSpace(text)
            ? throw new FormatException($"it did not call the {ToolName} tool")
            : ArticleJson.ParseText(text);
    }
}
