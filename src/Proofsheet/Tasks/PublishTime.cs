using System.Globalization;
using System.Text.RegularExpressions;

namespace Proofsheet.Tasks;

/// <summary>Reading a requested publish time: ISO 8601 with an explicit offset, in the future, within a year.</summary>
public static partial class PublishTime
{
    public static readonly TimeSpan MaxAhead = TimeSpan.FromDays(366);

    /// <summary>Adds a field error to <paramref name="checks"/> for a bad value; returns the time in UTC when it is good.</summary>
    public static DateTime? Check(Checks checks, string? value, TimeProvider time, bool required)
    {
        if (value is null)
        {
            checks.Rule(!required, "publish_at", "publish_at is required.");
            return null;
        }
        // Without an offset the time would be read in the server's zone, which the client cannot know.
        if (!WithOffset().IsMatch(value)
            || !DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
        {
            checks.Rule(false, "publish_at", "publish_at must be a date and time with its offset, like 2026-12-24T09:00:00Z or 2026-12-24T10:00:00+01:00.");
            return null;
        }
        var utc = parsed.UtcDateTime;
        var now = time.GetUtcNow().UtcDateTime;
        checks.Rule(utc > now, "publish_at", "publish_at is in the past; choose a time to come.")
            .Rule(utc <= now + MaxAhead, "publish_at", $"publish_at must be at most {MaxAhead.TotalDays:0} days ahead.");
        return utc;
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$", RegexOptions.CultureInvariant, 100)]
    private static partial Regex WithOffset();
}
