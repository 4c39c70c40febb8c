using System.Net;
using System.Text.Json;

namespace Proofsheet.Images;

/// <summary>Small helpers the HTTP image backends share.</summary>
internal static class BackendHttp
{
    /// <summary>Reads at most a few KB of an error body: enough to explain the failure, never a whole page.</summary>
    public static async Task<string> ReadSnippetAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            return Shorten(text, 4000);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return "";
        }
    }

    public static string Shorten(string? text, int max)
    {
        text = (text ?? "").Trim().ReplaceLineEndings(" ");
        return text.Length <= max ? text : text[..max] + "…";
    }

    public static string? StringProperty(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static JsonDocument? TryParse(string text)
    {
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Explains a transport failure (refused connection, reset, DNS) without a stack of inner messages.</summary>
    public static string Describe(HttpRequestException ex) => ex.HttpRequestError switch
    {
        HttpRequestError.ConnectionError => "could not connect",
        HttpRequestError.NameResolutionError => "the host name did not resolve",
        HttpRequestError.SecureConnectionError => "the TLS handshake failed",
        HttpRequestError.ResponseEnded => "the server closed the connection before answering",
        HttpRequestError.InvalidResponse => "the server sent an invalid HTTP response",
        _ => ex.StatusCode is HttpStatusCode code ? $"HTTP {(int)code}" : "the request failed",
    };
}
