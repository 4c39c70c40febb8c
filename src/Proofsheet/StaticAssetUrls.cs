using System.Text.Json;

namespace Proofsheet;

/// <summary>
/// The fingerprinted address of each file in wwwroot (<c>lib/pico/pico.min.css</c> →
/// <c>/lib/pico/pico.min.5chl36r618.css</c>), read from the same build manifest that
/// <c>MapStaticAssets</c> serves from. A fingerprinted address names one version of the file, so it is
/// sent with <c>Cache-Control: max-age=31536000, immutable</c>; a new build changes the address.
/// Razor's own <c>@Assets</c> needs an endpoint's metadata, which the pages rendered outside a
/// request (the public site's cache) do not have, hence this small lookup.
/// </summary>
public sealed class StaticAssetUrls
{
    private readonly Dictionary<string, string> _routes = new(StringComparer.Ordinal);

    public StaticAssetUrls(IWebHostEnvironment environment)
    {
        var manifest = Path.Combine(AppContext.BaseDirectory, environment.ApplicationName + ".staticwebassets.endpoints.json");
        if (!File.Exists(manifest))
        {
            return; // no manifest (a tool run from elsewhere): plain addresses, still served
        }
        using var stream = File.OpenRead(manifest);
        using var doc = JsonDocument.Parse(stream);
        foreach (var endpoint in doc.RootElement.GetProperty("Endpoints").EnumerateArray())
        {
            // The uncompressed fingerprinted route carries its file's plain name as its "label".
            var label = endpoint.TryGetProperty("EndpointProperties", out var properties)
                ? properties.EnumerateArray().Where(p => p.GetProperty("Name").GetString() == "label").Select(p => p.GetProperty("Value").GetString()).FirstOrDefault()
                : null;
            var route = endpoint.GetProperty("Route").GetString();
            if (label is not null && route is not null && !route.EndsWith(".gz", StringComparison.Ordinal) && !route.EndsWith(".br", StringComparison.Ordinal))
            {
                _routes[label] = route;
            }
        }
    }

    /// <summary>The address to put in a page for the wwwroot file <paramref name="path"/> (no leading slash).</summary>
    public string this[string path] => "/" + (_routes.TryGetValue(path, out var route) ? route : path);
}
