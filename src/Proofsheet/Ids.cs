namespace Proofsheet;

/// <summary>Identifiers: time-ordered (UUIDv7) and written as 32 lower-case hex digits, so they sort by creation.</summary>
public static class Ids
{
    public static string New() => Guid.CreateVersion7().ToString("N");

    public static bool IsValid(string? id) =>
        id is { Length: 32 } && id.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');
}
