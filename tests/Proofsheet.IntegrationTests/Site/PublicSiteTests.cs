using System.Net;
using System.Net.Http.Json;
using System.Xml.Linq;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Site;

/// <summary>The public site as a search engine and a feed reader see it (issue 14).</summary>
public sealed class PublicSiteTests
{
    [Fact]
    public async Task Home_robots_favicon_and_feed_say_what_crawlers_and_readers_need()
    {
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?> { ["Publishing:PublicBaseUrl"] = "https://blog.example" });
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Feed Crumbs", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 })).StatusCode);
        using var anonymous = app.CreateClient();

        var home = WebUtility.HtmlDecode(await anonymous.GetStringAsync("/"));
        Assert.Matches("<h1[^>]*>[^<]+</h1>", home);
        Assert.Matches("<meta name=\"description\" content=\"[^\"]{50,160}\"", home);
        Assert.Contains("<link rel=\"canonical\" href=\"https://blog.example/\"", home, StringComparison.Ordinal);
        Assert.Contains("<meta property=\"og:title\" content=\"Proofsheet\"", home, StringComparison.Ordinal);
        Assert.Contains("<meta property=\"og:image:width\" content=\"1200\"", home, StringComparison.Ordinal);
        Assert.Matches("<link rel=\"icon\" href=\"/favicon\\.[a-z0-9]+\\.svg\"", home);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/favicon.svg")).StatusCode);
        var second = WebUtility.HtmlDecode(await anonymous.GetStringAsync("/?page=2"));
        Assert.Contains("<link rel=\"canonical\" href=\"https://blog.example/?page=2\"", second, StringComparison.Ordinal);

        var robots = await anonymous.GetAsync("/robots.txt");
        Assert.Equal("text/plain", robots.Content.Headers.ContentType!.MediaType);
        Assert.Contains("Sitemap: https://blog.example/sitemap.xml", await robots.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var favicon = await anonymous.GetAsync("/favicon.ico");
        Assert.Equal("image/x-icon", favicon.Content.Headers.ContentType!.MediaType);
        var ico = await favicon.Content.ReadAsByteArrayAsync();
        Assert.Equal([0, 0, 1, 0, 1, 0], ico[..6]);
        using (var png = NetVips.Image.NewFromBuffer(ico[22..]))
        {
            Assert.Equal((32, 32), (png.Width, png.Height));
        }

        var feed = XDocument.Parse(await anonymous.GetStringAsync("/feed.xml"));
        XNamespace content = "http://purl.org/rss/1.0/modules/content/";
        var item = Assert.Single(feed.Descendants("item"));
        var enclosure = item.Element("enclosure")!;
        var image = await anonymous.GetByteArrayAsync(new Uri(enclosure.Attribute("url")!.Value).PathAndQuery);
        Assert.Equal(image.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), enclosure.Attribute("length")!.Value);
        Assert.Equal("image/png", enclosure.Attribute("type")!.Value);
        var full = item.Element(content + "encoded")!.Value;
        Assert.Contains("<p>", full, StringComparison.Ordinal);
        Assert.True(full.Length > item.Element("description")!.Value.Length, "content:encoded carries the whole post");
        app.DeleteFolder();
    }
}
