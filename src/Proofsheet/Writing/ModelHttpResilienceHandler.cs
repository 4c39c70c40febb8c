using System.Globalization;
using System.Net;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Proofsheet.Writing;

/// <summary>
/// The retry and timeout rules of the OpenAI and Anthropic services, applied below their SDKs (whose own
/// retries are switched off) so that both writers behave alike and waits can be capped: retry 408, 409, 429
/// and 5xx (Anthropic's 529 included), lost connections and timed-out attempts; honour <c>x-should-retry</c>,
/// <c>retry-after-ms</c> and <c>Retry-After</c>; never retry another 4xx, nor a 429 that means the account is out of credit.
/// </summary>
internal sealed class ModelHttpResilienceHandler : DelegatingHandler
{
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;

    public ModelHttpResilienceHandler(ModelEndpointOptions options, ILogger logger)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>();
        if (options.MaxRetries > 0)
        {
            var maxDelay = options.MaxRetryDelay;
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = maxDelay,
                ShouldHandle = args => ShouldRetryAsync(args.Outcome, args.Context.CancellationToken),
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result is { } r ? RequestedDelay(r, maxDelay) : null),
                OnRetry = args =>
                {
                    var what = args.Outcome.Result is { } r ? ((int)r.StatusCode).ToString(CultureInfo.InvariantCulture) : args.Outcome.Exception?.GetType().Name;
                    logger.LogWarning("Language model service answered {Outcome}; retry {Attempt} of {MaxRetries} in {Delay}",
                        what, args.AttemptNumber + 1, options.MaxRetries, args.RetryDelay);
                    return ValueTask.CompletedTask;
                },
            });
        }
        // Added after the retry so that each attempt gets the whole timeout.
        builder.AddTimeout(options.Timeout);
        _pipeline = builder.Build();
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Content is not null)
        {
            // Buffered content can be sent again on a retry.
            await request.Content.LoadIntoBufferAsync(cancellationToken);
        }
        return await _pipeline.ExecuteAsync(async ct =>
        {
            var response = await base.SendAsync(request, ct);
            if (response.IsSuccessStatusCode && response.Content.Headers.ContentType?.MediaType == "text/event-stream")
            {
                // A streamed answer is read as it arrives; the writer times the whole stream itself.
                return response;
            }
            try
            {
                // Read the body inside the attempt, so a service that sends headers and then stalls still times out.
                await response.Content.LoadIntoBufferAsync(ct);
                return response;
            }
            catch
            {
                response.Dispose();
                throw;
            }
        }, cancellationToken);
    }

    internal static async ValueTask<bool> ShouldRetryAsync(Outcome<HttpResponseMessage> outcome, CancellationToken cancellationToken)
    {
        if (outcome.Exception is not null)
        {
            return outcome.Exception is HttpRequestException or TimeoutRejectedException;
        }
        var response = outcome.Result!;
        if (response.Headers.TryGetValues("x-should-retry", out var values))
        {
            var said = values.FirstOrDefault();
            if (string.Equals(said, "true", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
            if (string.Equals(said, "false", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }
        var status = (int)response.StatusCode;
        if (status == 429)
        {
            // OpenAI says "out of credit" and Anthropic "spend limit reached" with a 429 too; waiting does not fix that.
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            return !WriterFailures.IsOutOfCredit(body);
        }
        return status is 408 or 409 || status >= 500;
    }

    /// <summary>The wait the service asked for, capped; null lets the exponential back-off decide.</summary>
    internal static TimeSpan? RequestedDelay(HttpResponseMessage response, TimeSpan max)
    {
        TimeSpan? wanted = null;
        if (response.Headers.TryGetValues("retry-after-ms", out var ms)
            && double.TryParse(ms.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var millis) && millis >= 0)
        {
            wanted = TimeSpan.FromMilliseconds(millis);
        }
        else if (response.Headers.RetryAfter is { } retryAfter)
        {
            wanted = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        }
        if (wanted is not { } delay)
        {
            return null;
        }
        return delay < TimeSpan.Zero ? TimeSpan.Zero : delay > max ? max : delay;
    }

    internal static bool IsRetryableStatus(HttpStatusCode status) => (int)status is 408 or 409 or 429 || (int)status >= 500;
}
