using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Proofsheet.Images;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.Publishing;

namespace Proofsheet.IntegrationTests.Publishing;

/// <summary>
/// A published image's web copies (social card, hero crops) live only as long as a page names them: unpublishing or
/// replacing the image removes them from the store; with Cloudinary none is uploaded at all, its own crops are used.
/// </summary>
public sealed partial class WebCopiesCleanupTests(S3rverFixture s3) : IClassFixture<S3rverFixture>
{
    [Fact]
    public async Task Local_store_unpublish_replace_and_delete_leave_no_web_copy_and_a_republish_makes_them_again()
    {
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?> { ["Storage:TrashRetentionDays"] = "0" });
        using var client = app.Api();
        using var anonymous = app.CreateClient();
        var id = (await app.CreateTaskAsync("Write about Crumb Shots", 2)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");

        var first = await PublishAsync(app, client, anonymous, id, index: 1, "crumb-shots");
        Assert.Equal(4, first.Copies.Count); // the social card; hero crops at 480, 960 and the image's own width
        Assert.All(first.Copies, url => Assert.True(File.Exists(MediaFile(app, url)), $"{url} is in the media folder"));

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/api/tasks/{id}/unpublish", null)).StatusCode);
        Assert.All(first.Copies, url => Assert.False(File.Exists(MediaFile(app, url)), $"{url} was left in the media folder"));
        Assert.True(File.Exists(MediaFile(app, first.Image)), "the image itself stays: approving it again needs no new upload");

        // Replaced by the other image: its copies appear, the first one's do not come back.
        var second = await PublishAsync(app, client, anonymous, id, index: 2, "crumb-shots");
        Assert.All(second.Copies, url => Assert.True(File.Exists(MediaFile(app, url))));
        Assert.Empty(first.Copies.Intersect(second.Copies));
        Assert.All(first.Copies, url => Assert.False(File.Exists(MediaFile(app, url))));

        // Unpublished and approved again: the preview was cleaned up after publishing, so the copies are made from the published image.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/api/tasks/{id}/unpublish", null)).StatusCode);
        Assert.All(second.Copies, url => Assert.False(File.Exists(MediaFile(app, url))));
        var again = await PublishAsync(app, client, anonymous, id, index: 2, "crumb-shots");
        Assert.Equal(second.Copies, again.Copies);
        Assert.All(again.Copies, url => Assert.True(File.Exists(MediaFile(app, url))));
        // Nothing else is in the media folder: the first image and the current one with their four copies.
        Assert.Equal(2 + 4, Directory.GetFiles(app.MediaDirectory, "*", SearchOption.AllDirectories).Length);

        // The first image, put in the trash and kept past its retention (none here), leaves the media folder too.
        var firstId = (await app.GetTaskAsync(id)).GetProperty("metadata").GetProperty("image_variations").EnumerateArray()
            .Single(v => v.GetProperty("index").GetInt32() == 1).GetProperty("image_id").GetString()!;
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/media/images/{firstId}")).StatusCode);
        await app.Services.GetRequiredService<PreviewSweeper>().SweepAsync(CancellationToken.None);
        Assert.False(File.Exists(MediaFile(app, first.Image)), "the discarded image's upload was left in the media folder");
        Assert.Equal(1 + 4, Directory.GetFiles(app.MediaDirectory, "*", SearchOption.AllDirectories).Length);
        app.DeleteFolder();
    }

    [Fact]
    public async Task S3_store_unpublish_removes_the_web_copies_from_the_bucket_and_a_republish_makes_them_from_the_published_image()
    {
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?>
        {
            ["Publishing:Provider"] = "s3",
            ["Publishing:S3:ServiceUrl"] = s3.ServiceUrl,
            ["Publishing:S3:Bucket"] = S3rverFixture.Bucket,
            ["Publishing:S3:AccessKey"] = S3rverFixture.AccessKey,
            ["Publishing:S3:SecretKey"] = S3rverFixture.SecretKey,
            ["Publishing:S3:PublicBaseUrl"] = s3.PublicBaseUrl,
            ["Publishing:S3:KeyPrefix"] = "media-" + Guid.NewGuid().ToString("N")[..8],
        });
        using var client = app.Api();
        using var anonymous = app.CreateClient();
        using var bucket = new HttpClient();
        var id = (await app.CreateTaskAsync("Write about Bucket Loaves", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");

        var published = await PublishAsync(app, client, anonymous, id, index: 1, "bucket-loaves");
        Assert.Equal(4, published.Copies.Count);
        Assert.All(published.Copies, url => Assert.StartsWith(s3.PublicBaseUrl + "/", url, StringComparison.Ordinal));
        foreach (var url in published.Copies)
        {
            Assert.Equal(HttpStatusCode.OK, (await bucket.GetAsync(url)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/api/tasks/{id}/unpublish", null)).StatusCode);
        foreach (var url in published.Copies)
        {
            Assert.Equal(HttpStatusCode.NotFound, (await bucket.GetAsync(url)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.OK, (await bucket.GetAsync(published.Image)).StatusCode);

        // The preview was deleted after the first publish: the copies come from the image in the bucket.
        var again = await PublishAsync(app, client, anonymous, id, index: 1, "bucket-loaves");
        Assert.Equal(published.Copies, again.Copies);
        foreach (var url in again.Copies)
        {
            Assert.Equal(HttpStatusCode.OK, (await bucket.GetAsync(url)).StatusCode);
        }
        app.DeleteFolder();
    }

    [Fact]
    public async Task Cloudinary_gets_only_the_image_and_the_page_names_its_g_xy_center_crops_that_keep_the_focal_point()
    {
        await using var cloudinary = await CloudinaryStandIn.StartAsync();
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?>
        {
            ["Publishing:Provider"] = "cloudinary",
            ["Publishing:Cloudinary:CloudName"] = CloudinaryStandIn.CloudName,
            ["Publishing:Cloudinary:ApiKey"] = CloudinaryStandIn.ApiKey,
            ["Publishing:Cloudinary:ApiSecret"] = CloudinaryStandIn.ApiSecret,
            ["Publishing:Cloudinary:BaseUrl"] = cloudinary.BaseUrl,
        }, services =>
        {
            services.RemoveAll<IImageGenerator>();
            services.AddSingleton<IImageGenerator>(new MarkedImages());
        });
        using var client = app.Api();
        using var anonymous = app.CreateClient();
        var id = (await app.CreateTaskAsync("Write about Cloud Corners", 1)).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");
        var imageId = task.GetProperty("metadata").GetProperty("image_variations")[0].GetProperty("image_id").GetString()!;
        // The blue mark near the top-right corner is the point to keep.
        Assert.Equal(HttpStatusCode.OK, (await client.PutAsJsonAsync($"/api/media/images/{imageId}/focus", new { x = 0.9, y = 0.06 })).StatusCode);

        var published = await PublishAsync(app, client, anonymous, id, index: 1, "cloud-corners");
        // Only the image was uploaded: the page's copies are Cloudinary crops of it, never an address of the app.
        var asset = Assert.Single(cloudinary.Assets).Value;
        Assert.StartsWith($"https://res.cloudinary.com/{CloudinaryStandIn.CloudName}/image/upload/v{asset.Version}/", published.Image, StringComparison.Ordinal);
        Assert.All(published.Copies, url => Assert.StartsWith($"https://res.cloudinary.com/{CloudinaryStandIn.CloudName}/image/upload/c_fill,g_xy_center,", url, StringComparison.Ordinal));
        // 0.9 × 1024 and 0.06 × 1024: pixels of the original.
        Assert.Contains("c_fill,g_xy_center,h_630,q_85,w_1200,x_922,y_61/", published.Social, StringComparison.Ordinal);

        using (var card = NetVips.Image.NewFromBuffer(cloudinary.Deliver(published.Social, out var type)))
        {
            Assert.Equal("image/jpeg", type);
            Assert.Equal((1200, 630), (card.Width, card.Height));
            AssertKeepsTheMark(card, "social card");
        }
        foreach (var hero in published.Copies.Where(u => u != published.Social))
        {
            using var crop = NetVips.Image.NewFromBuffer(cloudinary.Deliver(hero, out var type));
            Assert.Equal("image/webp", type);
            Assert.InRange(crop.Height, crop.Width * 9 / 16 - 1, crop.Width * 9 / 16 + 1);
            AssertKeepsTheMark(crop, $"{crop.Width} px hero crop");
        }

        // Unpublishing uploads nothing and destroys nothing: there is no copy to remove, and the image stays for a re-approval.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/api/tasks/{id}/unpublish", null)).StatusCode);
        Assert.Equal(0, cloudinary.Destroys);
        Assert.Single(cloudinary.Assets);
        app.DeleteFolder();
    }

    [Fact]
    public async Task Cloudinary_store_destroys_an_uploaded_image_signed_and_leaves_crop_urls_alone()
    {
        await using var cloudinary = await CloudinaryStandIn.StartAsync();
        using var http = new HttpClient();
        var store = new CloudinaryStore(http, Options.Create(new CloudinaryOptions
        {
            CloudName = CloudinaryStandIn.CloudName,
            ApiKey = CloudinaryStandIn.ApiKey,
            ApiSecret = CloudinaryStandIn.ApiSecret,
            BaseUrl = cloudinary.BaseUrl,
        }), TimeProvider.System, NullLogger<CloudinaryStore>.Instance);
        var asset = await store.UploadAsync(new TestImage("posts/pear-tart-0a1b").Request(), CancellationToken.None);
        var crop = store.CropUrl(asset.Url, 1024, 1024, 480, 270, new FocalPoint(0.5, 0.5), "webp", 80);

        await store.DeleteAsync(crop, CancellationToken.None);
        Assert.Equal(0, cloudinary.Destroys);
        await store.DeleteAsync(asset.Url, CancellationToken.None);
        Assert.Equal(1, cloudinary.Destroys);
        Assert.Empty(cloudinary.Assets);
        // Already gone: Cloudinary answers "not found", which is what was wanted.
        await store.DeleteAsync(asset.Url, CancellationToken.None);
        Assert.Null(await store.ReadAsync(asset.Url, CancellationToken.None));
    }

    [Fact]
    public async Task S3_store_reads_back_and_deletes_what_it_published_and_nothing_else()
    {
        using var store = new S3Store(Options.Create(new S3Options
        {
            ServiceUrl = s3.ServiceUrl,
            Bucket = S3rverFixture.Bucket,
            AccessKey = S3rverFixture.AccessKey,
            SecretKey = S3rverFixture.SecretKey,
            PublicBaseUrl = s3.PublicBaseUrl,
            KeyPrefix = "media",
            Timeout = TimeSpan.FromSeconds(30),
        }), NullLogger<S3Store>.Instance);
        var kept = new TestImage("posts/kept-image", "image/png");
        var copy = new TestImage("posts/kept-image-w480", "image/webp", 20_000);
        var image = await store.UploadAsync(kept.Request(), CancellationToken.None);
        var web = await store.UploadAsync(copy.Request(), CancellationToken.None);

        Assert.Equal(copy.Bytes, await store.ReadAsync(web.Url, CancellationToken.None));
        await store.DeleteAsync(web.Url, CancellationToken.None);
        using var anonymous = new HttpClient();
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync(web.Url)).StatusCode);
        Assert.Null(await store.ReadAsync(web.Url, CancellationToken.None));
        await store.DeleteAsync(web.Url, CancellationToken.None); // twice is harmless
        // A URL the store did not make is left alone, even one that looks like its own object's.
        await store.DeleteAsync("https://elsewhere.example/proofsheet-media/media/posts/kept-image.png", CancellationToken.None);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(image.Url)).StatusCode);
    }

    private sealed record Published(string Image, string Social, IReadOnlyList<string> Copies);

    private static async Task<Published> PublishAsync(TestApp app, HttpClient client, HttpClient anonymous, string id, int index, string slug)
    {
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index })).StatusCode);
        var task = await app.WaitForStatusAsync(id, "published");
        var html = WebUtility.HtmlDecode(await anonymous.GetStringAsync($"/posts/{slug}"));
        var social = OgImage().Match(html).Groups[1].Value;
        var srcset = Srcset().Match(html).Groups[1].Value.Split(", ").Select(c => c.Split(' ')[0]);
        return new Published(task.GetProperty("metadata").GetProperty("featured_image_url").GetString()!, social, srcset.Prepend(social).ToList());
    }

    private static string MediaFile(TestApp app, string url) =>
        Path.Combine(app.MediaDirectory, Uri.UnescapeDataString(new Uri(url).AbsolutePath["/media/".Length..]));

    private static void AssertKeepsTheMark(NetVips.Image image, string what)
    {
        using var blueness = image[2] - image[0];
        Assert.True(blueness.Max() > 150, $"the blue mark at the focal point is inside the {what}");
        using var redness = image[0] - image[2];
        Assert.True(redness.Max() < 100, $"the {what} was cut around the focal point, not the bright block");
    }

    [GeneratedRegex("<meta property=\"og:image\" content=\"([^\"]+)\"")]
    private static partial Regex OgImage();

    [GeneratedRegex("<source type=\"image/webp\" srcset=\"([^\"]+)\"")]
    private static partial Regex Srcset();

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
