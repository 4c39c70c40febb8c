namespace Proofsheet.Writing;

/// <summary>
/// Puts the documented Messages API headers on every request: the key in <c>x-api-key</c> and
/// <c>anthropic-version: 2023-06-01</c>, the version whose shapes this writer reads. The SDK of this
/// version sends the key as a bearer token and a newer version date instead, which the documented API
/// (service-contracts.md §6.1) does not promise to accept.
/// </summary>
internal sealed class AnthropicHeadersHandler(AnthropicWriterOptions options) : DelegatingHandler
{
    public const string ApiVersion = "2023-06-01";

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Authorization = null;
        request.Headers.Remove("x-api-key");
        if (!string.IsNullOrEmpty(options.ApiKey))
        {
            request.Headers.TryAddWithoutValidation("x-api-key", options.ApiKey);
        }
        request.Headers.Remove("anthropic-version");
        request.Headers.TryAddWithoutValidation("anthropic-version", ApiVersion);
        return base.SendAsync(request, cancellationToken);
    }
}
