using System.Globalization;
using System.Text;

namespace Proofsheet.Posts;

public static class Slug
{
    public const int MaxLength = 80;

    /// <summary>
    /// "Crème Brûlée!" → "creme-brulee". Letters are folded to ASCII, spaces and dashes
    /// collapse to one dash, anything else is removed. Never empty: <paramref name="fallbackId"/> stands in.
    /// </summary>
    public static string From(string? title, string fallbackId)
    {
        var fallback = "post-" + new string(fallbackId.Where(char.IsAsciiLetterOrDigit).Take(8).ToArray()).ToLowerInvariant();
        if (string.IsNullOrWhiteSpace(title))
        {
            return fallback;
        }

        var sb = new StringBuilder(title.Length);
        var pendingDash = false;
        foreach (var ch in Fold(title))
        {
            if (char.IsAsciiLetterOrDigit(ch))
            {
                if (pendingDash && sb.Length > 0)
                {
                    sb.Append('-');
                }
                pendingDash = false;
                sb.Append(char.ToLowerInvariant(ch));
            }
            else if (ch == '-' || char.IsWhiteSpace(ch))
            {
                pendingDash = true;
            }
            // Anything else (punctuation, symbols, letters with no ASCII form) is removed.
        }

        var slug = sb.ToString();
        if (slug.Length > MaxLength)
        {
            slug = slug[..MaxLength].TrimEnd('-');
        }
        return slug.Length == 0 ? fallback : slug;
    }

    /// <summary>"making-muffins" → "making-muffins-2"; keeps the result within <see cref="MaxLength"/>.</summary>
    public static string WithSuffix(string slug, int n)
    {
        var suffix = "-" + n.ToString(CultureInfo.InvariantCulture);
        var stem = slug.Length + suffix.Length > MaxLength ? slug[..(MaxLength - suffix.Length)].TrimEnd('-') : slug;
        return stem + suffix;
    }

    private static IEnumerable<char> Fold(string text)
    {
        foreach (var ch in text.Normalize(NormalizationForm.FormD))
        {
            switch (CharUnicodeInfo.GetUnicodeCategory(ch))
            {
                case UnicodeCategory.NonSpacingMark:
                    continue;
                default:
                    var folded = ch switch
                    {
                        'ß' => "ss", 'æ' or 'Æ' => "ae", 'œ' or 'Œ' => "oe", 'ø' or 'Ø' => "o",
                        'đ' or 'Đ' => "d", 'ł' or 'Ł' => "l", 'þ' or 'Þ' => "th", 'ı' => "i",
                        _ => null,
                    };
                    if (folded is null)
                    {
                        yield return ch;
                    }
                    else
                    {
                        foreach (var f in folded)
                        {
                            yield return f;
                        }
                    }
                    break;
            }
        }
    }
}
