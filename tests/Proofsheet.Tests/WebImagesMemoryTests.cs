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

    [Fact]
    public void Memory_libvips_used_for_the_copies_goes_back_to_the_system()
    {
        // libvips decodes and crops on its own worker threads through glibc's malloc, which kept what they
        // freed in per-thread arenas: each publish left the process ~25 MB larger (bench/run.sh --only render).
        Assert.True(OperatingSystem.IsLinux(), "This test reads /proc.");
        using var noise = NetVips.Image.Gaussnoise(2000, 2000);
        using var rgb = noise.Bandjoin(noise, noise).Cast(NetVips.Enums.BandFormat.Uchar);
        var source = rgb.PngsaveBuffer(compression: 1);
        var before = AnonymousResident();

        var (card, _) = WebImages.PublishedCopies(source, 2000, 2000, focus: null);

        Assert.Equal(1200, card.Width);
        // The 12 MB of decoded pixels and the crops cut from them are gone; what stays is the managed
        // results (well under 1 MB) and whatever the runtime allocated meanwhile.
        Assert.InRange(AnonymousResident() - before, long.MinValue, 8L * 1024 * 1024);
    }

    /// <summary>RssAnon: the process's resident memory that is not a mapped file (heaps, stacks).</summary>
    private static long AnonymousResident()
    {
        var line = File.ReadLines("/proc/self/status").Single(l => l.StartsWith("RssAnon:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
