using Proofsheet.Images;

namespace Proofsheet.Tests;

public sealed class PreviewNameTests
{
    [Fact]
    public void Derivatives_are_named_after_their_preview_and_share_its_stem()
    {
        const string preview = "automatic1111_20261201_151935_abc123_var2.png";
        Assert.Equal("automatic1111_20261201_151935_abc123_var2.thumb.webp", PreviewNames.Derivative(preview, PreviewDerivative.Thumb));
        Assert.Equal(["automatic1111_20261201_151935_abc123_var2.thumb.webp", "automatic1111_20261201_151935_abc123_var2.large.webp"],
            PreviewNames.DerivativesOf(preview));
        Assert.All(PreviewNames.DerivativesOf(preview), d =>
        {
            Assert.True(PreviewNames.IsOwn(d));
            Assert.True(PreviewNames.IsDerivative(d));
            Assert.Equal(PreviewNames.StemOf(preview), PreviewNames.StemOf(d));
            Assert.Empty(PreviewNames.DerivativesOf(d));
        });
        Assert.False(PreviewNames.IsDerivative(preview));
        Assert.False(PreviewNames.IsOwn("automatic1111_20261201_151935_abc123_var2.huge.webp"));
        Assert.False(PreviewNames.IsOwn("../automatic1111_20261201_151935_abc123_var2.thumb.webp"));
    }

    [Fact]
    public void A_derivative_fits_its_box_and_is_never_enlarged()
    {
        using var wide = NetVips.Image.Black(2000, 1000, bands: 3);
        var source = wide.PngsaveBuffer();
        var thumb = WebImages.FitWebp(source, 400);
        Assert.Equal(("image/webp", 400, 200), (thumb.ContentType, thumb.Width, thumb.Height));
        using var small = NetVips.Image.Black(300, 200, bands: 3);
        var same = WebImages.FitWebp(small.PngsaveBuffer(), 1600);
        Assert.Equal((300, 200), (same.Width, same.Height));
        using var decoded = NetVips.Image.NewFromBuffer(same.Data);
        Assert.Equal((300, 200), (decoded.Width, decoded.Height));
    }
}

public sealed class FocalCropTests
{
    /// <summary>A 1000² image, grey, with a red 40 px square at (900, 60): near the top-right corner.</summary>
    private static byte[] MarkedImage()
    {
        using var grey = NetVips.Image.Black(1000, 1000, bands: 3) + 128;
        using var red = NetVips.Image.Black(40, 40, bands: 3) + new[] { 255.0, 0, 0 };
        using var marked = grey.Insert(red, 880, 40);
        using var bytes = marked.Cast(NetVips.Enums.BandFormat.Uchar);
        return bytes.PngsaveBuffer();
    }

    private static bool HasRed(byte[] jpeg)
    {
        using var image = NetVips.Image.NewFromBuffer(jpeg);
        using var redness = image[0] - image[1];
        return redness.Max() > 150;
    }

    [Fact]
    public void A_focal_point_near_a_corner_stays_inside_the_social_card()
    {
        var source = MarkedImage();
        var focused = WebImages.SocialCard(source, new FocalPoint(0.9, 0.06));
        Assert.Equal((1200, 630), (focused.Width, focused.Height));
        Assert.True(HasRed(focused.Data), "the marked corner is inside the card cut around it");
        // The control: a crop around the centre loses that corner, so the test can fail.
        var centred = WebImages.SocialCard(source, FocalPoint.Centre);
        Assert.False(HasRed(centred.Data), "a centred card should not reach the top corner");
    }
}
