using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Proofsheet.Publishing;

/// <summary>
/// The app's public address. <c>Publishing:PublicBaseUrl</c> wins; otherwise, during a request,
/// the address the client used (behind a trusted proxy, its scheme and host: see
/// <c>ForwardedHeaders:KnownProxies</c>); outside any request (a post's featured image is
/// published by a background worker), the address the server listens on.
/// </summary>
public sealed class PublicUrls(IOptionsMonitor<PublishingOptions> options, IServer server, IHttpContextAccessor http)
{
    public string BaseUrl
    {
        get
        {
            var configured = options.CurrentValue.PublicBaseUrl;
            if (!string.IsNullOrWhiteSpace(configured))
            {
                return configured.TrimEnd('/');
            }
            if (http.HttpContext?.Request is { Host.HasValue: true } request)
            {
                return $"{request.Scheme}://{request.Host}";
            }
            var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://localhost";
            var uri = new UriBuilder(address.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal));
            if (uri.Host is "0.0.0.0" or "[::]" or "::")
            {
                uri.Host = "localhost";
            }
            return uri.Uri.GetLeftPart(UriPartial.Authority);
        }
    }

    public string Absolute(string path) => BaseUrl + (path.StartsWith('/') ? path : "/" + path);
}
