using System.Text;

namespace Proofsheet.Writing;

/// <summary>
/// Reads the article's <c>content</c> out of JSON that is still arriving (a streamed structured answer):
/// the top-level <c>"content"</c> string, decoded as far as it goes. Enough to show a reviewer the draft
/// as it is written; the finished answer is still parsed and checked as a whole.
/// </summary>
internal static class PartialArticle
{
    /// <returns>The content so far, or null while the answer has not reached it.</returns>
    public static string? Content(string json)
    {
        var depth = 0;
        var i = 0;
        string? lastKey = null;
        var expectingKey = false;
        while (i < json.Length)
        {
            var c = json[i];
            switch (c)
            {
                case '{':
                    depth++;
                    expectingKey = true;
                    i++;
                    break;
                case '[':
                    depth++;
                    expectingKey = false;
                    i++;
                    break;
                case '}' or ']':
                    depth--;
                    i++;
                    break;
                case ',':
                    expectingKey = depth >= 1;
                    i++;
                    break;
                case '"':
                    var (text, end, closed) = ReadString(json, i + 1);
                    if (depth == 1 && expectingKey)
                    {
                        lastKey = text;
                        expectingKey = false;
                    }
                    else if (depth == 1 && lastKey == "content")
                    {
                        return text;
                    }
                    if (!closed)
                    {
                        return null;
                    }
                    i = end;
                    break;
                default:
                    i++;
                    break;
            }
        }
        return null;
    }

    /// <summary>Decodes a JSON string from <paramref name="start"/> (just past the quote) to its closing quote or the end of the text.</summary>
    private static (string Text, int End, bool Closed) ReadString(string json, int start)
    {
        var sb = new StringBuilder();
        var i = start;
        while (i < json.Length)
        {
            var c = json[i];
            if (c == '"')
            {
                return (sb.ToString(), i + 1, true);
            }
            if (c != '\\')
            {
                sb.Append(c);
                i++;
                continue;
            }
            if (i + 1 >= json.Length)
            {
                break;
            }
            var e = json[i + 1];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'u':
                    if (i + 6 > json.Length)
                    {
                        return (sb.ToString(), json.Length, false);
                    }
                    if (int.TryParse(json.AsSpan(i + 2, 4), System.Globalization.NumberStyles.HexNumber, null, out var code))
                    {
                        sb.Append((char)code);
                    }
                    i += 6;
                    continue;
                default: sb.Append(e); break;
            }
            i += 2;
        }
        return (sb.ToString(), json.Length, false);
    }
}
