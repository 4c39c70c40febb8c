using Proofsheet.Images;

namespace Proofsheet.Tests;

[CollectionDefinition(nameof(LibvipsMemory), DisableParallelization = true)]
public sealed class LibvipsMemory;

/// <summary>
/// libvips counts the pixel memory it holds (<see cref="NetVips.Stats.Mem"/>); this class runs alone so
/// that no other test's images are counted with it.
/// </summary>
[Collection(nameof(LibvipsMemory))]
public sealed class WebImagesMemoryTests
{
    [Fact]
    public void Making_a_published_images_copies_leaves_no_pixels_held_afterwards()
    {
        // 2,000² RGB: 12 MB decoded. libvips' operation cache used to keep the decoded image (and the crops
        // cut from it) after the copies were made, so the app stayed that much larger after each publish.
        using var noise = NetVips.Image.Gaussnoise(2000, 2000);
        using var rgb = noise.Bandjoin(noise, noise).Cast(NetVips.Enums.BandFormat.Uchar);
        var source = rgb.PngsaveBuffer(compression: 1);
        var before = NetVips.Stats.Mem;

        var (card, heroes) = WebImages.PublishedCopies(source, 2000, 2000, new FocalPoint(0.2, 0.8));
        var (_, attention) = WebImages.PublishedCopies(source, 2000, 2000, focus: null);

        Assert.Equal((1200, 630), (card.Width, card.Height));
        Assert.Equal([480, 960, 1600], heroes.Select(h => h.Width));
        Assert.Equal(heroes.Select(h => (h.Width, h.Height)), attention.Select(h => (h.Width, h.Height)));
        Assert.InRange(NetVips.Stats.Mem - before, long.MinValue, 1024 * 1024);
    }
}
