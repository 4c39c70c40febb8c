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
public sealed class AnthropicWriter(IHttpClientFactory httpClients, IOptions<AnthropicWriterOptions> options, ILogger<AnthropicWriter> logger) : IArticleWriter
{
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

        return await ModelAnswers.WithOneRetryAsync(Service, $"{AnthropicWriterOptions.Section}:MaxTokens", logger, async ct =>
        {
            var message = await CreateAsync(client, parameters, o, ct);
            return Read(message);
        }, cancellationToken);
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

    private static ModelAttempt Read(Message message)
    {
        var stop = message.StopReason?.Raw();
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
            var draft = ParseContent(message.Content);
            return new ModelAttempt(draft with
            {
                Model = message.Model?.Raw(),
                InputTokens = message.Usage is { } u ? (int)Math.Min(u.InputTokens, int.MaxValue) : null,
                OutputTokens = message.Usage is { } v ? (int)Math.Min(v.OutputTokens, int.MaxValue) : null,
            });
        }
        catch (FormatException ex)
        {
            return new ModelAttempt(null, ex.Message);
        }
    }

    private static ArticleDraft ParseContent(IReadOnlyList<ContentBlock>? content)
    {
        var blocks = content ?? [];
        foreach (var block in blocks)
        {
            if (block.TryPickToolUse(out var toolUse) && toolUse.Name == ToolName)
            {
                return ArticleJson.Parse(JsonSerializer.SerializeToElement(toolUse.Input));
            }
        }
        // Anthropic-compatible servers that ignore tool_choice answer in text; the JSON may still be there.
        var text = string.Concat(blocks.Select(b => b.TryPickText(out var t) ? t.Text : ""));
        return string.IsNullOrWhiteSpace(text)
            ? throw new FormatException($"it did not call the {ToolName} tool")
            : ArticleJson.ParseText(text);
    }
}
