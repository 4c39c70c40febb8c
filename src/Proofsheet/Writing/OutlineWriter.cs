using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Proofsheet.Writing;

/// <summary>
/// The embedded default: a structured outline built from the topic alone, deterministic and
/// offline. It is plainly marked as a draft for a person to write up, not a finished article.
/// </summary>
public sealed partial class OutlineWriter : IArticleWriter
{
    public const string DraftMarker = "> **Draft outline** — written by Proofsheet's offline `outline` writer. Replace each point with prose before publishing.";

    public string Name => "outline";

    public Task<ArticleDraft> WriteAsync(ArticleRequest request, IProgress<string>? textSoFar, CancellationToken cancellationToken)
    {
        var subject = SubjectOf(request.Topic);
        var title = TitleCase(subject);
        var audience = string.IsNullOrWhiteSpace(request.Audience) ? "readers" : request.Audience.Trim();
        var tone = string.IsNullOrWhiteSpace(request.Tone) ? "friendly" : request.Tone.Trim();
        var sections = Math.Clamp(request.TargetWords / 250, 3, 8);

        var md = new StringBuilder();
        md.AppendLine(DraftMarker).AppendLine();
        md.Append("_Tone: ").Append(tone).Append(". Audience: ").Append(audience)
          .Append(". Target length: about ").Append(request.TargetWords.ToString(CultureInfo.InvariantCulture)).AppendLine(" words._").AppendLine();
        md.AppendLine("## Introduction").AppendLine();
        md.Append("- Why ").Append(subject.ToLowerInvariant()).Append(" matters to ").Append(audience).AppendLine(".");
        md.AppendLine("- The one thing the reader will be able to do after reading.").AppendLine();
        string[] headings =
        [
            "What you need to know first", "Getting started", "Step by step", "Common mistakes and how to avoid them",
            "Tips from experience", "Going further", "Questions people ask", "Resources",
        ];
        for (var i = 0; i < sections; i++)
        {
            md.Append("## ").AppendLine(headings[i]).AppendLine();
            md.Append("- Key point about ").Append(subject.ToLowerInvariant()).AppendLine(".");
            md.AppendLine("- An example or a short story that makes it concrete.").AppendLine();
        }
        md.AppendLine("## Conclusion").AppendLine();
        md.AppendLine("- Recap the main points in two sentences.");
        md.AppendLine("- Invite the reader to try it and share the result.");

        var keywords = KeywordsOf(subject);
        var draft = new ArticleDraft(
            Title: title,
            Excerpt: $"A practical guide to {subject.ToLowerInvariant()} for {audience}.",
            Content: md.ToString(),
            ImagePrompt: $"{subject}, editorial photograph for a blog post, natural light, high detail, appealing composition",
            ImageAlt: $"Featured image for the post \"{title}\"")
        {
            MetaDescription = $"{title}: a practical guide for {audience}.",
            Keywords = keywords,
            Model = "outline",
        };
        return Task.FromResult(draft);
    }

    /// <summary>"Write about Making Muffins" → "Making Muffins".</summary>
    internal static string SubjectOf(string topic)
    {
        var s = Whitespace().Replace(topic.Trim(), " ");
        s = Instruction().Replace(s, "").Trim().TrimEnd('.', '!', '?', ' ');
        return s.Length == 0 ? topic.Trim() : s;
    }

    internal static string TitleCase(string s)
    {
        string[] small = ["a", "an", "and", "as", "at", "but", "by", "for", "in", "of", "on", "or", "the", "to", "with"];
        var words = s.Split(' ');
        for (var i = 0; i < words.Length; i++)
        {
            var w = words[i];
            if (w.Length == 0 || w.Any(char.IsUpper))
            {
                continue; // keep "iPhone", "NASA" and the author's own capitals
            }
            if (i > 0 && small.Contains(w))
            {
                continue;
            }
            words[i] = char.ToUpperInvariant(w[0]) + w[1..];
        }
        return string.Join(' ', words);
    }

    private static List<string> KeywordsOf(string subject) =>
        subject.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(w => w.Trim(',', ';', ':', '"', '\''))
            .Where(w => w.Length > 3)
            .Distinct()
            .Take(6)
            .ToList();

    [GeneratedRegex(@"^(please\s+)?((write|create|draft|make)\s+(me\s+)?(a\s+|an\s+)?((blog\s+)?(post|article|piece)\s+)?(about|on)\s+)", RegexOptions.IgnoreCase)]
    private static partial Regex Instruction();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
