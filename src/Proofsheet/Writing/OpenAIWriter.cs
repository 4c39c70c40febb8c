using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.Options;
using OpenAI;
using OpenAI.Chat;

namespace Proofsheet.Writing;

/// <summary>
/// Writes through any OpenAI-compatible <c>/chat/completions</c> endpoint (OpenAI, Ollama, vLLM, LM Studio,
/// llama.cpp server), asking for the article as strict structured JSON.
/// </summary>
public sealed class OpenAIWriter(IHttpClientFactory httpClients, IOptions<OpenAIWriterOptions> options, ILogger<OpenAIWriter> logger) : IArticleWriter
{
    public const string HttpClientName = "Proofsheet.Writing.OpenAI";
    // The SDK refuses an empty key, and local servers (Ollama, LM Studio…) accept any.
    internal const string PlaceholderKey = "no-key";
    private const string Service = "The OpenAI-compatible service";

    public string Name => "openai";

    public async Task<ArticleDraft> WriteAsync(ArticleRequest request, CancellationToken cancellationToken)
    {
        var o = options.Value;
        using var transport = new HttpClientPipelineTransport(httpClients.CreateClient(HttpClientName));
        var client = new ChatClient(o.Model, new ApiKeyCredential(string.IsNullOrEmpty(o.ApiKey) ? PlaceholderKey : o.ApiKey), new OpenAIClientOptions
        {
            Endpoint = new Uri(o.BaseUrl!),
            Transport = transport,
            // Retries and timeouts live in ModelHttpResilienceHandler, so the SDK must not add its own.
            RetryPolicy = new ClientRetryPolicy(0),
            NetworkTimeout = Timeout.InfiniteTimeSpan,
        });
        ChatMessage[] messages = [new SystemChatMessage(ArticleJson.SystemPrompt), new UserChatMessage(ArticleJson.UserPrompt(request))];
        var schema = BinaryData.FromString(ArticleJson.Schema().ToJsonString());

        return await ModelAnswers.WithOneRetryAsync(Service, $"{OpenAIWriterOptions.Section}:MaxTokens", logger, async ct =>
        {
            var completionOptions = new ChatCompletionOptions
            {
                ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat(ArticleJson.SchemaName, schema, "A blog post draft", jsonSchemaIsStrict: true),
                MaxOutputTokenCount = o.MaxTokens,
            };
            var completion = await CompleteAsync(client, messages, completionOptions, o, ct);
            return Read(completion);
        }, cancellationToken);
    }

    private static async Task<ChatCompletion> CompleteAsync(
        ChatClient client, ChatMessage[] messages, ChatCompletionOptions completionOptions, OpenAIWriterOptions o, CancellationToken cancellationToken)
    {
        try
        {
            return (await client.CompleteChatAsync(messages, completionOptions, cancellationToken)).Value;
        }
        catch (ClientResultException ex) when (ex.Status == 0)
        {
            throw WriterFailures.IsTimeout(ex)
                ? WriterFailures.TimedOut(Service, o.Timeout, $"{OpenAIWriterOptions.Section}:Timeout")
                : WriterFailures.Unreachable(Service, o.BaseUrl!, (Exception?)WriterFailures.Find<HttpRequestException>(ex) ?? ex, o.ApiKey);
        }
        catch (ClientResultException ex)
        {
            var body = ex.GetRawResponse()?.Content?.ToString();
            throw WriterFailures.FromStatus(Service, ex.Status, body, o.ApiKey, $"{OpenAIWriterOptions.Section}:ApiKey");
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && WriterFailures.IsTimeout(ex))
        {
            throw WriterFailures.TimedOut(Service, o.Timeout, $"{OpenAIWriterOptions.Section}:Timeout");
        }
        catch (HttpRequestException ex)
        {
            throw WriterFailures.Unreachable(Service, o.BaseUrl!, ex, o.ApiKey);
        }
    }

    private static ModelAttempt Read(ChatCompletion completion)
    {
        if (!string.IsNullOrEmpty(completion.Refusal))
        {
            throw new WriterException($"The model declined to write this article: {completion.Refusal}", retryable: false);
        }
        if (completion.FinishReason == ChatFinishReason.ContentFilter)
        {
            throw new WriterException("The service's content filter stopped the article. Rephrase the topic.", retryable: false);
        }
        if (completion.FinishReason == ChatFinishReason.Length)
        {
            return new ModelAttempt(null, "it stopped at the output token limit (finish_reason \"length\")", Truncated: true);
        }
        var text = string.Concat(completion.Content.Where(p => p.Kind == ChatMessageContentPartKind.Text).Select(p => p.Text));
        try
        {
            var draft = ArticleJson.ParseText(text) with
            {
                Model = string.IsNullOrEmpty(completion.Model) ? null : completion.Model,
                InputTokens = completion.Usage?.InputTokenCount,
                OutputTokens = completion.Usage?.OutputTokenCount,
            };
            return new ModelAttempt(draft);
        }
        catch (FormatException ex)
        {
            return new ModelAttempt(null, ex.Message);
        }
    }
}
