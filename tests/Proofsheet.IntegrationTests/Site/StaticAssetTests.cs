using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Site;

/// <summary>wwwroot is served compressed, at fingerprinted addresses cached for a year (issue 14: 83 KB of Pico went uncompressed).</summary>
public sealed partial class StaticAssetTests
{
    [Fact]
    public async Task Pages_name_fingerprinted_files_sent_with_brotli_or_gzip_and_an_immutable_cache_header()
    {
        await using var app = await TestApp.StartAsync(new SqliteDatabase());
        using var anonymous = app.CreateClient();

        var home = await anonymous.GetStringAsync("/");
        var pico = Stylesheet().Matches(home).Select(m => m.Groups["href"].Value).Single(h => h.StartsWith("/lib/pico/", StringComparison.Ordinal));
        Assert.Matches("^/lib/pico/pico\\.min\\.[a-z0-9]{6,}\\.css$", pico);
        Assert.Matches("<link rel=\"stylesheet\" href=\"/site\\.[a-z0-9]{6,}\\.css\"", home);
        // The Hub's pages too, with htmx and its SSE extension.
        var login = await anonymous.GetStringAsync("/hub/login");
        Assert.Contains($"href=\"{pico}\"", login, StringComparison.Ordinal);
        Assert.Matches("<script src=\"/lib/htmx/htmx\\.min\\.[a-z0-9]{6,}\\.js\" defer>", login);
        Assert.Matches("<script src=\"/lib/htmx-ext-sse/sse\\.min\\.[a-z0-9]{6,}\\.js\" defer>", login);
        Assert.Matches("<script src=\"/hub\\.[a-z0-9]{6,}\\.js\" defer>", login);

        var plain = await anonymous.GetByteArrayAsync(pico);
        foreach (var (encoding, decompress) in new (string, Func<Stream, Stream>)[]
        {
            ("br", s => new BrotliStream(s, CompressionMode.Decompress)),
            ("gzip", s => new GZipStream(s, CompressionMode.Decompress)),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, pico);
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue(encoding));
            using var response = await anonymous.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal([encoding], response.Content.Headers.ContentEncoding);
            Assert.Equal("text/css", response.Content.Headers.ContentType!.MediaType);
            Assert.Equal("max-age=31536000, immutable", response.Headers.CacheControl!.ToString());
            Assert.Contains("Accept-Encoding", response.Headers.Vary);
            var sent = await response.Content.ReadAsByteArrayAsync();
            Assert.True(sent.Length < plain.Length / 4, $"{encoding}: {sent.Length} bytes sent for {plain.Length} bytes of CSS");
            using var unpacked = new MemoryStream();
            await using (var stream = decompress(new MemoryStream(sent)))
            {
                await stream.CopyToAsync(unpacked);
            }
            Assert.Equal(plain, unpacked.ToArray());
        }
        app.DeleteFolder();
    }

    [GeneratedRegex("<link rel=\"stylesheet\" href=\"(?<href>[^\"]+)\"")]
    private static partial Regex Stylesheet();
}
