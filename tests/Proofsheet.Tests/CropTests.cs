using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Proofsheet.Images;
using Proofsheet.Publishing;

namespace Proofsheet.Tests;

/// <summary>The sizes of the hero crops, what they keep of an image, and Cloudinary's crop URLs: what the published page names.</summary>
public sealed class CropTests
{
    [Theory]
    [InlineData(1024, 1024, 1024, 576)] // square: full width, 16:9
    [InlineData(1344, 768, 1344, 756)] // a little wider than 16:9 allows for its height: still full width
    [InlineData(3000, 1000, 1600, 900)] // panorama: as wide as its height allows, capped at 1600
    [InlineData(768, 1344, 768, 432)] // portrait
    public void The_largest_hero_crop_never_scales_the_image_up(int width, int height, int heroWidth, int heroHeight)
    {
        Assert.Equal((heroWidth, heroHeight), WebImages.HeroSize(width, height));
        Assert.Equal((heroWidth, heroHeight), WebImages.HeroSizes(width, height)[^1]);
        Assert.All(WebImages.HeroSizes(width, height), s => Assert.InRange(s.Width, 1, heroWidth));
    }

    [Fact]
    public void A_cloudinary_crop_centres_on_the_focal_point_in_pixels_of_the_original()
    {
        using var http = new HttpClient();
        var store = new CloudinaryStore(http, Options.Create(new CloudinaryOptions()), TimeProvider.System, NullLogger<CloudinaryStore>.Instance);
        const string original = "https://res.cloudinary.com/demo/image/upload/v1719307544/blog/rye-bread-0a1b2c3d4e5f.png";

        Assert.Equal("https://res.cloudinary.com/demo/image/upload/c_fill,g_xy_center,h_630,q_85,w_1200,x_1210,y_46/v1719307544/blog/rye-bread-0a1b2c3d4e5f.jpg",
            store.CropUrl(original, 1344, 768, 1200, 630, new FocalPoint(0.9, 0.06), "jpg", 85));
        // A point on the far edge is still a pixel of the image.
        Assert.Contains(",x_1343,y_767/", store.CropUrl(original, 1344, 768, 480, 270, new FocalPoint(1, 1), "webp", 80), StringComparison.Ordinal);
        Assert.Equal("https://res.cloudinary.com/demo/image/upload/c_fill,g_auto,h_270,q_80,w_480/v1719307544/blog/rye-bread-0a1b2c3d4e5f.webp",
            store.CropUrl(original, 1344, 768, 480, 270, null, "webp", 80));

        // Deleting knows an uploaded asset from a crop of it (which goes with its original).
        Assert.Equal("blog/rye-bread-0a1b2c3d4e5f", CloudinaryStore.PublicIdOf(original));
        Assert.Null(CloudinaryStore.PublicIdOf(store.CropUrl(original, 1344, 768, 480, 270, null, "webp", 80)));
    }

    [Fact]
    public void Without_a_focal_point_every_copy_keeps_the_most_striking_part_of_the_image()
    {
        // Grey with one saturated red square near the bottom: a centred cut would leave it out of the social
        // card (rows 380-1220 of 1600) and of every hero crop (rows 350-1250).
        using var canvas = (NetVips.Image.Black(1600, 1600, bands: 3) + 128).Cast(NetVips.Enums.BandFormat.Uchar);
        using var red = (NetVips.Image.Black(200, 200, bands: 3) + new[] { 220.0, 30.0, 30.0 }).Cast(NetVips.Enums.BandFormat.Uchar);
        using var marked = canvas.Insert(red, 700, 1320);
        var png = marked.PngsaveBuffer(compression: 1);

        var (card, heroes) = WebImages.PublishedCopies(png, 1600, 1600, focus: null);

        Assert.Equal([480, 960, 1600], heroes.Select(h => h.Width));
        Assert.All(heroes.Prepend(card), copy => Assert.True(ShowsRed(copy.Data), $"The {copy.Width}×{copy.Height} copy lost the red square."));

        static bool ShowsRed(byte[] encoded)
        {
            using var image = NetVips.Image.NewFromBuffer(encoded);
            using var redness = image[0] - image[1];
            return redness.Max() > 100;
        }
    }
}
