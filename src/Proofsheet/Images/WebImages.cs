using NetVips;

namespace Proofsheet.Images;

/// <summary>A derivative image: encoded bytes and what they decode to.</summary>
public sealed record EncodedImage(byte[] Data, string ContentType, int Width, int Height);

/// <summary>
/// Image processing for the web, on libvips (NetVips). libvips was chosen over ImageSharp and
/// SkiaSharp because it is the fastest of the three and the leanest in memory (it streams an image
/// through a pipeline instead of decoding it whole), and because it renders SVG (librsvg), which
/// turns the embedded title cards into PNGs that link-preview crawlers display.
/// </summary>
public static class WebImages
{
    /// <summary>
    /// libwebp's effort (0–6). Its default, 4, took ten times as long as 2 for the hero crops of an
    /// SDXL render (about 290 ms against 30–75 ms for the 1024 px crop) and gave files within 1 % of
    /// the size: measured with bench/derivatives. Publishing waits on these encodes.
    /// </summary>
    internal const int WebpEffort = 2;

    static WebImages()
    {
        // libvips keeps the results of recent operations (up to 100 of them, 100 MB) in case the same
        // operation runs again on the same input. Here every call has new bytes, so the cache never
        // hits; it only held the decoded pixels of the last images (a 25 MB render's ~25 MB) after
        // the work was done.
        Cache.Max = 0;
    }

    /// <summary>The size Facebook, LinkedIn, X and Slack show a large link preview at.</summary>
    public const int SocialWidth = 1200;
    public const int SocialHeight = 630;

    /// <summary>Renders an SVG document to a PNG of its own size.</summary>
    public static EncodedImage RenderSvg(byte[] svg)
    {
        try
        {
            // unlimited: false keeps librsvg's guards against hostile documents.
            using var image = Image.SvgloadBuffer(svg, access: Enums.Access.Sequential);
            return new EncodedImage(image.PngsaveBuffer(compression: 6), "image/png", image.Width, image.Height);
        }
        catch (VipsException ex)
        {
            throw new ImageGenerationException($"Could not render the title card: {FirstLine(ex)}", ex);
        }
    }

    /// <summary>
    /// The 1200×630 card for <c>og:image</c> and the Twitter card: the image scaled to cover the card,
    /// then cropped around <paramref name="focus"/> (fractions of width and height), or around what
    /// libvips' attention strategy finds most salient when there is none. JPEG: every crawler reads it,
    /// and it is a fraction of a PNG's size for photographs.
    /// </summary>
    public static EncodedImage SocialCard(byte[] source, FocalPoint? focus = null)
    {
        using var original = Decode(source);
        return SocialCard(original, focus ?? Salient(original));
    }

    private static EncodedImage SocialCard(Image original, FocalPoint focus)
    {
        using var card = CoverCrop(original, SocialWidth, SocialHeight, focus);
        using var flat = Flatten(card);
        return new EncodedImage(flat.JpegsaveBuffer(q: 85, optimizeCoding: true, keep: Enums.ForeignKeep.None), "image/jpeg", flat.Width, flat.Height);
    }

    /// <summary>
    /// Everything a published image needs beside it: the social card (<see cref="SocialCard(byte[], FocalPoint?)"/>) and the
    /// hero crops (<see cref="HeroCrops"/>), cut from one decode of the image instead of one per copy.
    /// </summary>
    public static (EncodedImage Card, IReadOnlyList<EncodedImage> Heroes) PublishedCopies(byte[] source, int originalWidth, int originalHeight, FocalPoint? focus)
    {
        try
        {
            using var original = Decode(source);
            var point = focus ?? Salient(original);
            return (SocialCard(original, point), HeroCrops(original, originalWidth, originalHeight, point));
        }
        finally
        {
            _ = NativeHeap.Trim();
        }
    }

    /// <summary>The widths a published image is offered at in <c>srcset</c>: phone, tablet or column, wide screen.</summary>
    public static readonly int[] ResponsiveWidths = [480, 960, 1600];

    /// <summary>The shape of a post's header image and of its card on the home page: the usual wide hero.</summary>
    public const int HeroAspectWidth = 16;
    public const int HeroAspectHeight = 9;

    /// <summary>
    /// The largest hero crop an image gives without being scaled up: its full width when it is wider than 16:9
    /// allows for its height, otherwise as wide as its height allows; never more than the widest responsive width.
    /// </summary>
    public static (int Width, int Height) HeroSize(int width, int height)
    {
        var w = Math.Min(ResponsiveWidths[^1], Math.Min(width, height * HeroAspectWidth / HeroAspectHeight));
        return (w, (int)Math.Round(w * (double)HeroAspectHeight / HeroAspectWidth));
    }

    /// <summary>The sizes of the hero crops: each responsive width under the largest crop, then the largest.</summary>
    public static IReadOnlyList<(int Width, int Height)> HeroSizes(int originalWidth, int originalHeight)
    {
        var (largest, _) = HeroSize(originalWidth, originalHeight);
        return ResponsiveWidths.Where(w => w < largest).Append(largest)
            .Select(w => (w, (int)Math.Round(w * (double)HeroAspectHeight / HeroAspectWidth))).ToList();
    }

    /// <summary>
    /// The hero crops of a published image, as WebP: the 16:9 cut that keeps <paramref name="focus"/> (or, without
    /// one, what libvips' attention strategy finds most salient), at each of <see cref="ResponsiveWidths"/> under the
    /// largest crop the image gives (<see cref="HeroSize"/>), and at that size, so the set reaches full detail.
    /// The post page and the home page's card both show these, so both keep the focal point.
    /// </summary>
    public static IReadOnlyList<EncodedImage> HeroCrops(byte[] source, int originalWidth, int originalHeight, FocalPoint? focus)
    {
        using var original = Decode(source);
        return HeroCrops(original, originalWidth, originalHeight, focus ?? Salient(original));
    }

    private static List<EncodedImage> HeroCrops(Image original, int originalWidth, int originalHeight, FocalPoint focus)
    {
        var sizes = HeroSizes(originalWidth, originalHeight);
        var images = new List<EncodedImage>(sizes.Count);
        // The largest crop is cut once and the smaller ones are it scaled down: all are 16:9, so each shows the
        // same cut (the one that keeps the focal point) and the full image is resized once, not once per width.
        using var largest = Materialise(CoverCrop(original, sizes[^1].Width, sizes[^1].Height, focus));
        foreach (var (width, height) in sizes)
        {
            using var crop = largest.ThumbnailImage(width, height: height, crop: Enums.Interesting.Centre);
            try
            {
                images.Add(new EncodedImage(crop.WebpsaveBuffer(q: 80, effort: WebpEffort, keep: Enums.ForeignKeep.None), "image/webp", crop.Width, crop.Height));
            }
            catch (VipsException ex)
            {
                throw new ImageGenerationException($"Could not read the image: {FirstLine(ex)}", ex);
            }
        }
        return images;
    }

    /// <summary>The image scaled down (never up) to fit <paramref name="maxSide"/> on its longer side, as WebP.</summary>
    public static EncodedImage FitWebp(byte[] source, int maxSide)
    {
        try
        {
            using var fitted = Image.ThumbnailBuffer(source, maxSide, height: maxSide, size: Enums.Size.Down);
            return new EncodedImage(fitted.WebpsaveBuffer(q: 80, effort: WebpEffort, keep: Enums.ForeignKeep.None), "image/webp", fitted.Width, fitted.Height);
        }
        catch (VipsException ex)
        {
            throw new ImageGenerationException($"Could not read the image: {FirstLine(ex)}", ex);
        }
        finally
        {
            _ = NativeHeap.Trim();
        }
    }

    /// <summary>
    /// The image decoded once into memory, for several copies to be cut from. (From the encoded bytes each
    /// copy decoded the whole PNG again: a fifth of the time of the hero crops of an SDXL render.)
    /// </summary>
    private static Image Decode(byte[] source)
    {
        try
        {
            using var loaded = Image.NewFromBuffer(source, access: Enums.Access.Sequential);
            return loaded.CopyMemory();
        }
        catch (VipsException ex)
        {
            throw new ImageGenerationException($"Could not read the image: {FirstLine(ex)}", ex);
        }
    }

    private static Image Materialise(Image image)
    {
        using (image)
        {
            return image.CopyMemory();
        }
    }

    /// <summary>
    /// Where libvips' attention strategy (edges, skin tones, saturated colours) finds the most salient part, as a
    /// focal point, for an image that has none. Searched once, on a copy <see cref="SalientSide"/> px across: the
    /// search itself shrinks the image to a few dozen pixels, and running it on the full image for the card and
    /// again for the heroes (thumbnail with attention crop) made the copies about half as slow again (158 against
    /// 106 ms for an SDXL render, docs/benchmarks.md).
    /// </summary>
    internal static FocalPoint Salient(Image original)
    {
        try
        {
            using var small = original.ThumbnailImage(SalientSide, height: SalientSide);
            // The window (the largest 16:9 area, the heroes' shape) only sets how widely the search blurs.
            var (width, height) = small.Width * HeroAspectHeight >= small.Height * HeroAspectWidth
                ? (Math.Max(1, small.Height * HeroAspectWidth / HeroAspectHeight), small.Height)
                : (small.Width, Math.Max(1, small.Width * HeroAspectHeight / HeroAspectWidth));
            using var crop = small.Smartcrop(width, height, out var x, out var y, interesting: Enums.Interesting.Attention);
            return new FocalPoint(Math.Clamp((x + 0.5) / small.Width, 0, 1), Math.Clamp((y + 0.5) / small.Height, 0, 1));
        }
        catch (VipsException ex)
        {
            throw new ImageGenerationException($"Could not read the image: {FirstLine(ex)}", ex);
        }
    }

    private const int SalientSide = 256;

    /// <summary>Scales the image to cover width×height and crops the rest away, keeping the focal point inside.</summary>
    internal static Image CoverCrop(Image original, int width, int height, FocalPoint focus)
    {
        try
        {
            var scale = Math.Max((double)width / original.Width, (double)height / original.Height);
            // The part of the original the copy shows, cut before scaling so that only its pixels are resampled
            // (the social card shows about half of a square render), centred on the focal point and pushed back
            // inside the image at the edges.
            var regionWidth = Math.Clamp((int)Math.Round(width / scale), 1, original.Width);
            var regionHeight = Math.Clamp((int)Math.Round(height / scale), 1, original.Height);
            var left = Math.Clamp((int)Math.Round(focus.X * original.Width - regionWidth / 2.0), 0, original.Width - regionWidth);
            var top = Math.Clamp((int)Math.Round(focus.Y * original.Height - regionHeight / 2.0), 0, original.Height - regionHeight);
            var region = original.Crop(left, top, regionWidth, regionHeight);
            if (regionWidth == width && regionHeight == height)
            {
                return region;
            }
            using (region)
            {
                return region.Resize((double)width / regionWidth, vscale: (double)height / regionHeight, kernel: Enums.Kernel.Lanczos3);
            }
        }
        catch (VipsException ex)
        {
            throw new ImageGenerationException($"Could not read the image: {FirstLine(ex)}", ex);
        }
    }

    /// <summary>
    /// Reads the whole of a stream into memory (libvips needs the bytes to crop at random). With the length
    /// known, into one array of that size: a growing buffer and its final copy held twice the image at the peak.
    /// </summary>
    public static async Task<byte[]> ReadAllAsync(Stream stream, long length, CancellationToken ct)
    {
        if (length <= 0 || length > Array.MaxLength)
        {
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, ct);
            return buffer.ToArray();
        }
        var all = new byte[length];
        await stream.ReadExactlyAsync(all, ct);
        return all;
    }

    /// <summary>JPEG and the crawlers know no transparency: put it on white.</summary>
    private static Image Flatten(Image image) => image.HasAlpha() ? image.Flatten(background: [255, 255, 255]) : image.Copy();

    private static string FirstLine(VipsException ex) => ex.Message.Split('\n', 2)[0];
}

/// <summary>The point of an image that every crop must keep, as fractions (0–1) of its width and height.</summary>
public sealed record FocalPoint(double X, double Y)
{
    public static readonly FocalPoint Centre = new(0.5, 0.5);
}
