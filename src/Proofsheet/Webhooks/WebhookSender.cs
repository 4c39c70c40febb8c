using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Proofsheet.Webhooks;

public static class WebhookSignature
{
    public const string Header = "X-Proofsheet-Signature";

    /// <summary><c>sha256=</c> and the lower-case hex HMAC-SHA256 of the exact body bytes.</summary>
    public static string Compute(ReadOnlySpan<byte> body, string secret) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));
}

/// <summary>One HTTP attempt of one delivery.</summary>
public sealed class WebhookSender(HttpClient http, IOptions<WebhookOptions> options)
{
    /// <returns>Null when the receiver answered 2xx, otherwise what went wrong (for <see cref="WebhookDelivery.LastError"/>).</returns>
    public async Task<string?> SendAsync(WebhookDelivery delivery, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var body = Encoding.UTF8.GetBytes(delivery.Payload);
        using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url)
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" } } },
        };
        request.Headers.Add(WebhookSignature.Header, WebhookSignature.Compute(body, o.Secret ?? ""));
        request.Headers.Add("X-Proofsheet-Event", delivery.Event);
        request.Headers.Add("X-Proofsheet-Delivery", delivery.Id);
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("Proofsheet-Webhooks", "1.0"));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(o.Timeout);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (response.IsSuccessStatusCode)
            {
                return null;
            }
            // A receiver may echo what it was configured with: the shared secret never reaches LastError or a log.
            var text = Writing.WriterFailures.Redact(await ReadStartAsync(response, timeout.Token), o.Secret);
            return string.Create(CultureInfo.InvariantCulture, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}{(text.Length > 0 ? ": " + text : "")}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"No answer within {o.Timeout.TotalSeconds:0.#} s.";
        }
        catch (HttpRequestException ex)
        {
            return "Could not reach the receiver: " + ex.Message;
        }
    }

    /// <summary>Enough of the receiver's answer to tell a reviewer why, without storing a large page.</summary>
    private static async Task<string> ReadStartAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            var buffer = new byte[500];
            var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct);
            return Encoding.UTF8.GetString(buffer, 0, read).Trim();
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return "";
        }
    }
}
