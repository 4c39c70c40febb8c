using System.Globalization;
using System.Security;
using System.Text;

namespace Proofsheet.Images;

/// <summary>
/// The embedded default image backend: a title card drawn from the post's title as SVG and rendered
/// to PNG (link-preview crawlers show no SVG, so an SVG card would make every shared post
/// pictureless). Each variation gets its own palette and layout so that a reviewer has a real choice.
/// </summary>
public sealed class TitleCardGenerator : IImageGenerator
{
    public string Name => "titlecard";

    private sealed record Design(string Name, string From, string To, string Ink, string Accent, int Layout);

    private static readonly Design[] Designs =
    [
        new("dawn", "#ff9a8b", "#ff6a88", "#ffffff", "#fff3b0", 0),
        new("ocean", "#0f2027", "#2c5364", "#e0f7fa", "#4dd0e1", 1),
        new("meadow", "#d4fc79", "#96e6a1", "#1b4332", "#2d6a4f", 2),
        new("ink", "#111111", "#333333", "#f5f5f5", "#ffb703", 3),
        new("lavender", "#e0c3fc", "#8ec5fc", "#2b2d42", "#6a4c93", 0),
        new("ember", "#3a0ca3", "#f72585", "#ffffff", "#ffd166", 1),
        new("paper", "#fdfcfb", "#e2d1c3", "#3d2c29", "#b5651d", 2),
        new("forest", "#134e5e", "#71b280", "#ffffff", "#f1faee", 3),
    ];

    public Task<IReadOnlyList<GeneratedImage>> GenerateAsync(ImageRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        var title = string.IsNullOrWhiteSpace(request.Title) ? request.Prompt : request.Title;
        var images = new List<GeneratedImage>(request.Count);
        for (var i = 0; i < request.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // The design is the seed: a given seed draws the same card again ("same seed" in the Hub).
            var seed = request.Seed is > 0 and < int.MaxValue - 100 ? (int)request.Seed.Value + i : request.FirstVariation + i;
            var svg = Draw(title, request.Width, request.Height, Designs[(seed - 1 + Designs.Length) % Designs.Length], seed);
            var png = WebImages.RenderSvg(Encoding.UTF8.GetBytes(svg));
            images.Add(new GeneratedImage(png.Data, png.ContentType, png.Width, png.Height)
            {
                Seed = (ulong)seed,
            });
            progress?.Report(new GenerationProgress(i + 1, request.Count, "drawing title card"));
        }
        return Task.FromResult<IReadOnlyList<GeneratedImage>>(images);
    }

    /// <summary>The card's SVG document, before rendering (tests read it to check escaping).</summary>
    internal static string Svg(string title, int width, int height, int variation) =>
        Draw(title, width, height, Designs[(variation - 1 + Designs.Length) % Designs.Length], variation);

    private static string Draw(string title, int width, int height, Design design, int variation)
    {
        var inv = CultureInfo.InvariantCulture;
        var fontSize = Math.Max(18, Math.Min(width, height) / 14);
        var lines = Wrap(title.Trim(), Math.Max(8, (int)(width * 0.8 / (fontSize * 0.55))), 5);
        var lineHeight = fontSize * 1.25;
        var blockHeight = lineHeight * lines.Count;
        var (anchor, x) = design.Layout switch
        {
            1 or 3 => ("start", width * 0.1),
            _ => ("middle", width / 2.0),
        };
        var y0 = design.Layout == 3 ? height * 0.62 : (height - blockHeight) / 2 + fontSize;

        var sb = new StringBuilder();
        sb.Append(inv, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">""");
        sb.Append("<title>").Append(Escape(title)).Append("</title>");
        sb.Append(inv, $"""<defs><linearGradient id="bg" x1="0" y1="0" x2="{(design.Layout % 2 == 0 ? 1 : 0)}" y2="1"><stop offset="0" stop-color="{design.From}"/><stop offset="1" stop-color="{design.To}"/></linearGradient></defs>""");
        sb.Append(inv, $"""<rect width="{width}" height="{height}" fill="url(#bg)"/>""");
        switch (design.Layout)
        {
            case 0:
                sb.Append(inv, $"""<circle cx="{width * 0.85:0}" cy="{height * 0.15:0}" r="{width * 0.22:0}" fill="{design.Accent}" opacity="0.35"/>""");
                sb.Append(inv, $"""<circle cx="{width * 0.1:0}" cy="{height * 0.9:0}" r="{width * 0.3:0}" fill="{design.Accent}" opacity="0.2"/>""");
                break;
            case 1:
                sb.Append(inv, $"""<rect x="{width * 0.1:0}" y="{y0 - fontSize * 2:0}" width="{width * 0.12:0}" height="{Math.Max(4, fontSize / 5)}" fill="{design.Accent}"/>""");
                break;
            case 2:
                sb.Append(inv, $"""<rect x="{width * 0.06:0}" y="{height * 0.06:0}" width="{width * 0.88:0}" height="{height * 0.88:0}" fill="none" stroke="{design.Accent}" stroke-width="{Math.Max(3, width / 120)}"/>""");
                break;
            default:
                for (var i = 0; i < 6; i++)
                {
                    sb.Append(inv, $"""<rect x="{width * (0.1 + i * 0.14):0}" y="{height * 0.12:0}" width="{width * 0.1:0}" height="{height * (0.1 + i * 0.05):0}" fill="{design.Accent}" opacity="{0.15 + i * 0.1:0.00}"/>""");
                }
                break;
        }
        sb.Append(inv, $"""<g font-family="Georgia, 'DejaVu Serif', serif" font-size="{fontSize}" font-weight="700" fill="{design.Ink}" text-anchor="{anchor}">""");
        for (var i = 0; i < lines.Count; i++)
        {
            sb.Append(inv, $"""<text x="{x:0}" y="{y0 + i * lineHeight:0}">""").Append(Escape(lines[i])).Append("</text>");
        }
        sb.Append("</g>");
        sb.Append(inv, $"""<text x="{width - 24}" y="{height - 24}" font-family="sans-serif" font-size="{Math.Max(12, fontSize / 3)}" fill="{design.Ink}" opacity="0.7" text-anchor="end">{design.Name} · {variation}</text>""");
        sb.Append("</svg>");
        return sb.ToString();
    }

    private static List<string> Wrap(string text, int maxChars, int maxLines)
    {
        var lines = new List<string>();
        var current = new StringBuilder();
        foreach (var word in text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            var w = word.Length > maxChars ? word[..maxChars] : word;
            if (current.Length > 0 && current.Length + 1 + w.Length > maxChars)
            {
                lines.Add(current.ToString());
                current.Clear();
            }
            if (current.Length > 0)
            {
                current.Append(' ');
            }
            current.Append(w);
        }
        if (current.Length > 0)
        {
            lines.Add(current.ToString());
        }
        if (lines.Count > maxLines)
        {
            lines = lines.Take(maxLines).ToList();
            lines[^1] += "…";
        }
        return lines;
    }

    /// <summary>XML-escapes text, and drops characters XML cannot carry at all.</summary>
    private static string Escape(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (char.IsHighSurrogate(ch) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(ch).Append(text[++i]);
            }
            else if (!char.IsSurrogate(ch) && (ch is '\t' or '\n' or '\r' || (ch >= 0x20 && ch != 0xFFFE && ch != 0xFFFF)))
            {
                sb.Append(ch);
            }
        }
        return SecurityElement.Escape(sb.ToString());
    }
}
