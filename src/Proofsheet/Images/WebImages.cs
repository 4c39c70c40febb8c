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
        return SocialCard(original, focus);
    }

    private static EncodedImage SocialCard(Image original, FocalPoint? focus)
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
            return (SocialCard(original, focus), HeroCrops(original, originalWidth, originalHeight, focus));
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
        return HeroCrops(original, originalWidth, originalHeight, focus);
    }

    private static List<EncodedImage> HeroCrops(Image original, int originalWidth, int originalHeight, FocalPoint? focus)
    {
        var sizes = HeroSizes(originalWidth, originalHeight);
        var images = new List<EncodedImage>(sizes.Count);
        // Without a focal point the salient part is found once, for the largest crop, and the smaller ones are
        // that crop scaled down: every size shows the same cut, and the attention search (the slow part) runs once.
        using var largest = focus is null ? Materialise(CoverCrop(original, sizes[^1].Width, sizes[^1].Height, null)) : null;
        foreach (var (width, height) in sizes)
        {
            using var crop = largest is null ? CoverCrop(original, width, height, focus)
                : largest.ThumbnailImage(width, height: height, crop: Enums.Interesting.Centre);
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

    /// <summary>Scales the image to cover width×height and crops the rest away, keeping the focal point inside.</summary>
    internal static Image CoverCrop(Image original, int width, int height, FocalPoint? focus)
    {
        try
        {
            if (focus is null)
            {
                return original.ThumbnailImage(width, height: height, crop: Enums.Interesting.Attention);
            }
            var scale = Math.Max((double)width / original.Width, (double)height / original.Height);
            using var scaled = original.Resize(scale, kernel: Enums.Kernel.Lanczos3);
            // Centre the crop on the focal point, pushed back inside the image at the edges.
            var left = Math.Clamp((int)Math.Round(focus.X * scaled.Width - width / 2.0), 0, Math.Max(0, scaled.Width - width));
            var top = Math.Clamp((int)Math.Round(focus.Y * scaled.Height - height / 2.0), 0, Math.Max(0, scaled.Height - height));
            return scaled.Crop(left, top, Math.Min(width, scaled.Width), Math.Min(height, scaled.Height));
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
