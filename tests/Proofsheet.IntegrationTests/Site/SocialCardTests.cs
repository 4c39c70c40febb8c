using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Site;

/// <summary>A post published on the embedded defaults (title cards, local media) shares with a picture.</summary>
public sealed partial class SocialCardTests
{
    [Fact]
    public async Task A_published_post_has_a_1200x630_raster_og_image_whose_tags_say_so()
    {
        await using var app = await TestApp.StartAsync(new SqliteDatabase());
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Sharing Muffins", 2)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        var approved = await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });
        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        Assert.Equal("published", (await approved.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());

        using var anonymous = app.CreateClient();
        var html = await anonymous.GetStringAsync("/posts/sharing-muffins");
        var og = Meta(html, "og:image");
        Assert.Equal("image/jpeg", Meta(html, "og:image:type"));
        Assert.Equal("1200", Meta(html, "og:image:width"));
        Assert.Equal("630", Meta(html, "og:image:height"));
        Assert.Equal(og, Meta(html, "twitter:image"));
        Assert.Equal("summary_large_image", Meta(html, "twitter:card"));

        var image = await anonymous.GetAsync(new Uri(og).PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, image.StatusCode);
        Assert.Equal("image/jpeg", image.Content.Headers.ContentType!.MediaType);
        using var card = NetVips.Image.NewFromBuffer(await image.Content.ReadAsByteArrayAsync());
        Assert.Equal("jpegload_buffer", card.Get("vips-loader"));
        Assert.Equal((1200, 630), (card.Width, card.Height));
        // The featured image itself stays the full title card, a PNG.
        var post = await anonymous.GetFromJsonAsync<JsonElement>("/api/posts/sharing-muffins");
        var featured = await anonymous.GetAsync(new Uri(post.GetProperty("featured_image_url").GetString()!).PathAndQuery);
        Assert.Equal("image/png", featured.Content.Headers.ContentType!.MediaType);
        app.DeleteFolder();
    }

    [Fact]
    public async Task A_published_post_offers_webp_copies_whose_files_decode_to_the_stated_widths()
    {
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?> { ["Images:Width"] = "1344", ["Images:Height"] = "768" });
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Wide Loaves", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 })).StatusCode);

        using var anonymous = app.CreateClient();
        var html = await anonymous.GetStringAsync("/posts/wide-loaves");
        var img = FeaturedImage().Match(html);
        Assert.True(img.Success, "the post has a featured <img> with width and height");
        // The hero crop's size: 16:9 at the image's full width.
        Assert.Equal(("1344", "756"), (img.Groups["w"].Value, img.Groups["h"].Value));
        var source = WebpSource().Match(html);
        Assert.True(source.Success, "the post offers a WebP <source>");
        var candidates = WebUtility.HtmlDecode(source.Groups["srcset"].Value).Split(", ").Select(c => c.Split(' ')).ToList();
        // 480, 960, and the image's own 1344 (under 1600, so that is the largest).
        Assert.Equal(["480w", "960w", "1344w"], candidates.Select(c => c[1]));
        foreach (var candidate in candidates)
        {
            var file = await anonymous.GetAsync(new Uri(candidate[0]).PathAndQuery);
            Assert.Equal(HttpStatusCode.OK, file.StatusCode);
            Assert.Equal("image/webp", file.Content.Headers.ContentType!.MediaType);
            using var decoded = NetVips.Image.NewFromBuffer(await file.Content.ReadAsByteArrayAsync());
            Assert.Equal("webpload_buffer", decoded.Get("vips-loader"));
            Assert.Equal(candidate[1], $"{decoded.Width}w");
            Assert.InRange(decoded.Height, decoded.Width * 9 / 16 - 1, decoded.Width * 9 / 16 + 1);
        }
        app.DeleteFolder();
    }

    [GeneratedRegex("<img id=\"featured-image\" [^>]*width=\"(?<w>\\d+)\" height=\"(?<h>\\d+)\"[^>]*>")]
    private static partial Regex FeaturedImage();

    [GeneratedRegex("<source type=\"image/webp\" srcset=\"(?<srcset>[^\"]+)\"")]
    private static partial Regex WebpSource();

    private static string Meta(string html, string name)
    {
        var match = MetaTag().Matches(html).SingleOrDefault(m => m.Groups["name"].Value == name);
        Assert.True(match is not null, $"no <meta> {name}");
        return WebUtility.HtmlDecode(match.Groups["content"].Value);
    }

    [GeneratedRegex("""<meta (?:property|name)="(?<name>[^"]+)" content="(?<content>[^"]*)"\s*/?>""")]
    private static partial Regex MetaTag();
}
