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
public sealed class OpenAIWriter(IHttpClientFactory httpClients, IOptions<OpenAIWriterOptions> options, ILogger<OpenAIWriter> logger) : IArticleWriter, IImagePromptWriter
{
    public const string HttpClientName = "Proofsheet.Writing.OpenAI";
    // The SDK refuses an empty key, and local servers (Ollama, LM Studio…) accept any.
    internal const string PlaceholderKey = "no-key";
    private const string Service = "The OpenAI-compatible service";

    public string Name => "openai";

    public async Task<ArticleDraft> WriteAsync(ArticleRequest request, IProgress<string>? textSoFar, CancellationToken cancellationToken)
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

        var officialApi = new Uri(o.BaseUrl!).Host.Equals("api.openai.com", StringComparison.OrdinalIgnoreCase);
        return await ModelAnswers.WithOneRetryAsync(Service, $"{OpenAIWriterOptions.Section}:MaxTokens", logger, async ct =>
        {
            var completionOptions = new ChatCompletionOptions
            {
                ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat(ArticleJson.SchemaName, schema, "A blog post draft", jsonSchemaIsStrict: true),
            };
            if (o.MaxTokens is { } max)
            {
                if (officialApi)
                {
                    completionOptions.MaxOutputTokenCount = max;
                }
                else
                {
                    // Ollama reads only max_tokens (openai/openai.go), and vLLM, LM Studio and llama.cpp read it too;
                    // the SDK would send max_completion_tokens, which Ollama ignores.
#pragma warning disable SCME0001 // JsonPatch is the SDK's own way to send a field it does not model.
                    completionOptions.Patch.Set("$.max_tokens"u8, max);
#pragma warning restore SCME0001
                }
            }
            return await StreamAsync(client, messages, completionOptions, textSoFar, o, ct);
        }, cancellationToken);
    }

    /// <summary>
    /// Streams the answer, telling <paramref name="draft"/> the article text as it grows. The attempt's time
    /// limit covers the whole stream, not only the wait for the first byte.
    /// </summary>
    private static async Task<ModelAttempt> StreamAsync(
        ChatClient client, ChatMessage[] messages, ChatCompletionOptions completionOptions, IProgress<string>? draft, OpenAIWriterOptions o, CancellationToken cancellationToken)
    {
        // Until the answer starts, the resilience handler times each try and retries; this only bounds them all.
        // Once it streams, the stream as a whole gets one timeout.
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(o.Timeout * (o.MaxRetries + 1) + o.MaxRetryDelay * o.MaxRetries + TimeSpan.FromSeconds(1));
        var streaming = false;
        var text = new System.Text.StringBuilder();
        var refusal = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        string? model = null;
        ChatTokenUsage? usage = null;
        var reported = 0;
        try
        {
            await foreach (var update in client.CompleteChatStreamingAsync(messages, completionOptions, attempt.Token))
            {
                if (!streaming)
                {
                    streaming = true;
                    attempt.CancelAfter(o.Timeout);
                }
                foreach (var part in update.ContentUpdate)
                {
                    if (part.Kind == ChatMessageContentPartKind.Text)
                    {
                        text.Append(part.Text);
                    }
                }
                refusal.Append(update.RefusalUpdate);
                finish = update.FinishReason ?? finish;
                model = string.IsNullOrEmpty(update.Model) ? model : update.Model;
                usage = update.Usage ?? usage;
                if (draft is not null && PartialArticle.Content(text.ToString()) is { } sofar && sofar.Length > reported)
                {
                    reported = sofar.Length;
                    draft.Report(sofar);
                }
            }
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
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && (WriterFailures.IsTimeout(ex) || ex is OperationCanceledException))
        {
            throw WriterFailures.TimedOut(Service, o.Timeout, $"{OpenAIWriterOptions.Section}:Timeout");
        }
        catch (HttpRequestException ex)
        {
            throw WriterFailures.Unreachable(Service, o.BaseUrl!, ex, o.ApiKey);
        }
        return Read(text.ToString(), refusal.Length == 0 ? null : refusal.ToString(), finish, model, usage);
    }

    /// <summary>A new image prompt from a reviewer's feedback: one short structured answer, not streamed.</summary>
    public async Task<string> RewriteImagePromptAsync(ImagePromptRequest request, CancellationToken cancellationToken)
    {
        var o = options.Value;
        using var transport = new HttpClientPipelineTransport(httpClients.CreateClient(HttpClientName));
        var client = new ChatClient(o.Model, new ApiKeyCredential(string.IsNullOrEmpty(o.ApiKey) ? PlaceholderKey : o.ApiKey), new OpenAIClientOptions
        {
            Endpoint = new Uri(o.BaseUrl!),
            Transport = transport,
            RetryPolicy = new ClientRetryPolicy(0),
            NetworkTimeout = Timeout.InfiniteTimeSpan,
        });
        ChatMessage[] messages = [new SystemChatMessage(ImagePromptJson.SystemPrompt), new UserChatMessage(ImagePromptJson.UserPrompt(request))];
        var completionOptions = new ChatCompletionOptions
        {
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat(
                ImagePromptJson.SchemaName, BinaryData.FromString(ImagePromptJson.Schema().ToJsonString()), "A rewritten image prompt", jsonSchemaIsStrict: true),
        };
        ChatCompletion completion;
        try
        {
            completion = (await client.CompleteChatAsync(messages, completionOptions, cancellationToken)).Value;
        }
        catch (ClientResultException ex) when (ex.Status == 0)
        {
            throw WriterFailures.IsTimeout(ex)
                ? WriterFailures.TimedOut(Service, o.Timeout, $"{OpenAIWriterOptions.Section}:Timeout")
                : WriterFailures.Unreachable(Service, o.BaseUrl!, (Exception?)WriterFailures.Find<HttpRequestException>(ex) ?? ex, o.ApiKey);
        }
        catch (ClientResultException ex)
        {
            throw WriterFailures.FromStatus(Service, ex.Status, ex.GetRawResponse()?.Content?.ToString(), o.ApiKey, $"{OpenAIWriterOptions.Section}:ApiKey");
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && (WriterFailures.IsTimeout(ex) || ex is OperationCanceledException))
        {
            throw WriterFailures.TimedOut(Service, o.Timeout, $"{OpenAIWriterOptions.Section}:Timeout");
        }
        catch (HttpRequestException ex)
        {
            throw WriterFailures.Unreachable(Service, o.BaseUrl!, ex, o.ApiKey);
        }
        if (!string.IsNullOrEmpty(completion.Refusal))
        {
            throw new WriterException($"The model declined to rewrite the image prompt: {completion.Refusal}", retryable: false);
        }
        try
        {
            return ImagePromptJson.ParseText(string.Concat(completion.Content.Where(p => p.Kind == ChatMessageContentPartKind.Text).Select(p => p.Text)));
        }
        catch (FormatException ex)
        {
            throw new WriterException($"{Service} did not answer with an image prompt: {ex.Message}.", retryable: true);
        }
    }

    private static ModelAttempt Read(string text, string? refusal, ChatFinishReason? finish, string? model, ChatTokenUsage? usage)
    {
        if (!string.IsNullOrEmpty(refusal))
        {
            throw new WriterException($"The model declined to write this article: {refusal}", retryable: false);
        }
        if (finish == ChatFinishReason.ContentFilter)
        {
            throw new WriterException("The service's content filter stopped the article. Rephrase the topic.", retryable: false);
        }
        if (finish == ChatFinishReason.Length)
        {
            return new ModelAttempt(null, "it stopped at the output token limit (finish_reason \"length\")", Truncated: true);
        }
        try
        {
            var draft = ArticleJson.ParseText(text) with
            {
                Model = string.IsNullOrEmpty(model) ? null : model,
                InputTokens = usage?.InputTokenCount,
                OutputTokens = usage?.OutputTokenCount,
            };
            return new ModelAttempt(draft);
        }
        catch (FormatException ex)
        {
            return new ModelAttempt(null, ex.Message);
        }
    }
}
