using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Proofsheet.Images;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Site;

/// <summary>A focal point set on a candidate is kept with it and respected by the published social card and hero crops.</summary>
public sealed class FocalPointTests
{
    [Fact]
    public async Task A_focal_point_near_a_corner_stays_inside_the_published_social_card_and_hero_crops()
    {
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), services: s =>
        {
            s.RemoveAll<IImageGenerator>();
            s.AddSingleton<IImageGenerator>(new MarkedImages());
        });
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Corner Crumbs", 1)).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");
        var imageId = task.GetProperty("metadata").GetProperty("image_variations")[0].GetProperty("image_id").GetString()!;

        // Bad input changes nothing.
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PutAsJsonAsync($"/api/media/images/{imageId}/focus", new { x = 1.5, y = 0.1 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PutAsJsonAsync($"/api/media/images/{imageId}/focus", new { x = 0.5 })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PutAsJsonAsync("/api/media/images/nosuchimage/focus", new { x = 0.5, y = 0.5 })).StatusCode);
        // The blue mark near the top-right corner is the point to keep.
        var set = await client.PutAsJsonAsync($"/api/media/images/{imageId}/focus", new { x = 0.9, y = 0.06 });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal(0.06, (await set.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("y").GetDouble());

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await client.PutAsJsonAsync($"/api/media/images/{imageId}/focus", new { x = 0.5, y = 0.5 })).StatusCode);
        using var anonymous = app.CreateClient();
        var html = await anonymous.GetStringAsync("/posts/corner-crumbs");
        var og = System.Text.RegularExpressions.Regex.Match(html, "<meta property=\"og:image\" content=\"([^\"]+)\"").Groups[1].Value;
        using var card = NetVips.Image.NewFromBuffer(await anonymous.GetByteArrayAsync(new Uri(WebUtility.HtmlDecode(og)).PathAndQuery));
        Assert.Equal((1200, 630), (card.Width, card.Height));
        using var blueness = card[2] - card[0];
        Assert.True(blueness.Max() > 150, "the blue mark at the focal point is inside the social card");
        // Without the point, libvips' attention crop would cut around the bright block at the bottom instead.
        using var redness = card[0] - card[2];
        Assert.True(redness.Max() < 100, "the card was cut around the focal point, not the salient block at the bottom");

        // The hero crops (the post's header, and its card on the home page) are 16:9 and keep the point too.
        var srcset = System.Text.RegularExpressions.Regex.Match(html, "<source type=\"image/webp\" srcset=\"([^\"]+)\"").Groups[1].Value;
        var heroes = WebUtility.HtmlDecode(srcset).Split(", ").Select(c => c.Split(' ')[0]).ToList();
        Assert.Equal(3, heroes.Count); // 480, 960 and 1024 wide
        foreach (var url in heroes)
        {
            using var hero = NetVips.Image.NewFromBuffer(await anonymous.GetByteArrayAsync(new Uri(url).PathAndQuery));
            Assert.InRange(hero.Height, hero.Width * 9 / 16 - 1, hero.Width * 9 / 16 + 1);
            using var heroBlue = hero[2] - hero[0];
            Assert.True(heroBlue.Max() > 150, $"the blue mark at the focal point is inside the {hero.Width} px hero crop");
            using var heroRed = hero[0] - hero[2];
            Assert.True(heroRed.Max() < 100, $"the {hero.Width} px hero crop was cut around the focal point, not the salient block");
        }
        // The home page's card shows the same crops.
        Assert.Contains(srcset, await anonymous.GetStringAsync("/"), StringComparison.Ordinal);
        app.DeleteFolder();
    }

    /// <summary>1024² grey, a blue mark near the top-right corner, a large bright red-yellow block at the bottom.</summary>
    private sealed class MarkedImages : IImageGenerator
    {
        public string Name => "titlecard";

        public Task<IReadOnlyList<GeneratedImage>> GenerateAsync(ImageRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
        {
            using var grey = NetVips.Image.Black(1024, 1024, bands: 3) + 128;
            using var blue = NetVips.Image.Black(40, 40, bands: 3) + new[] { 0.0, 0, 255 };
            using var block = NetVips.Image.Black(600, 200, bands: 3) + new[] { 255.0, 200, 0 };
            using var marked = grey.Insert(blue, 900, 40).Insert(block, 50, 800);
            using var bytes = marked.Cast(NetVips.Enums.BandFormat.Uchar);
            var png = bytes.PngsaveBuffer();
            return Task.FromResult<IReadOnlyList<GeneratedImage>>(
                Enumerable.Range(request.FirstVariation, request.Count).Select(_ => new GeneratedImage(png, "image/png", 1024, 1024)).ToList());
        }
    }
}
