using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Proofsheet.Writing;

/// <summary>
/// The writer in use answers its cheapest call: <c>GET /models</c> of an OpenAI-compatible server (OpenAI,
/// Ollama, vLLM, LM Studio, llama.cpp all serve it), <c>GET /v1/models</c> of Anthropic. Both prove the
/// address and the key and cost nothing; whether the configured model is listed is reported too.
/// </summary>
public sealed class WriterHealthCheck(
    IHttpClientFactory httpFactory,
    IOptions<ContentOptions> content,
    IOptions<OpenAIWriterOptions> openai,
    IOptions<AnthropicWriterOptions> anthropic) : IHealthCheck
{
    public const string HttpClientName = "Proofsheet.Writing.Health";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var isAnthropic = string.Equals(content.Value.Provider.Trim(), "anthropic", StringComparison.OrdinalIgnoreCase);
        ModelEndpointOptions o = isAnthropic ? anthropic.Value : openai.Value;
        var service = isAnthropic ? "The Anthropic API" : "The OpenAI-compatible service";
        var baseUrl = o.BaseUrl!.TrimEnd('/') + "/";
        using var message = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(baseUrl), isAnthropic ? "v1/models?limit=1000" : "models"));
        if (isAnthropic)
        {
            message.Headers.TryAddWithoutValidation("x-api-key", o.ApiKey);
            message.Headers.TryAddWithoutValidation("anthropic-version", AnthropicHeadersHandler.ApiVersion);
        }
        else if (!string.IsNullOrEmpty(o.ApiKey))
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", o.ApiKey);
        }
        var data = new Dictionary<string, object> { ["endpoint"] = new Uri(baseUrl).GetLeftPart(UriPartial.Authority), ["model"] = o.Model ?? "" };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            using var response = await httpFactory.CreateClient(HttpClientName).SendAsync(message, timeout.Token);
            var body = await response.Content.ReadAsStringAsync(timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                var failure = WriterFailures.FromStatus(service, (int)response.StatusCode, body, o.ApiKey, $"{o.SectionName}:ApiKey");
                return HealthCheckResult.Unhealthy(failure.Message, data: data);
            }
            using var doc = JsonDocument.Parse(body);
            var ids = doc.RootElement.TryGetProperty("data", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().Select(m => m.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null).OfType<string>().ToList()
                : [];
            // Anthropic's aliases (claude-sonnet-4-5) name a dated model (claude-sonnet-4-5-20250929).
            var listed = ids.Any(id => id == o.Model || (isAnthropic && id.StartsWith(o.Model + "-", StringComparison.Ordinal)));
            data["model listed"] = listed;
            return listed
                ? HealthCheckResult.Healthy($"{service} answers and lists model {o.Model}.", data)
                : HealthCheckResult.Degraded($"{service} answers, but model {o.Model} is not in its list ({string.Join(", ", ids.Take(10))}).", data: data);
        }
        catch (HttpRequestException ex)
        {
            return HealthCheckResult.Unhealthy(WriterFailures.Unreachable(service, o.BaseUrl!, ex, o.ApiKey).Message, data: data);
        }
        catch (JsonException)
        {
            return HealthCheckResult.Unhealthy($"{service} answered the model list with a body that is not JSON.", data: data);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"{service} did not answer the model list within 10 s.", data: data);
        }
    }
}
